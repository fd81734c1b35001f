"""Artifacts through runs: log_artifact / use_artifact record lineage that Api and `tracker lineage` follow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tracker_core
from tracker_core.cli import main


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def _three_stage_pipeline(tmp_path: Path) -> dict[str, Any]:
    """data prep run -> tokenized:v0 -> training run -> model:v0 -> fine-tune run -> model:v1."""
    raw = _write(tmp_path / "raw", {"a.txt": "hello", "b/c.txt": "world"})
    with tracker_core.init(project="pipe", name="prep", job_type="data") as prep:
        data = tracker_core.Artifact("tokenized", type="dataset", metadata={"num_tokens": 2})
        data.add_dir(raw, name="tokens")
        logged_data = prep.log_artifact(data, aliases=["gold"])
    with tracker_core.init(project="pipe", name="train", job_type="train") as train:
        used = train.use_artifact("tokenized:gold")
        folder = Path(used.download(tmp_path / "dl"))
        assert (folder / "tokens" / "b" / "c.txt").read_text() == "world"
        weights = _write(tmp_path / "ckpt", {"model.bin": "weights-1"})
        model = tracker_core.Artifact("model", type="model")
        model.add_file(weights / "model.bin")
        logged_model = train.log_artifact(model, aliases=["best"])
    with tracker_core.init(project="pipe", name="finetune") as finetune:
        finetune.use_artifact("model:latest")
        tuned = _write(tmp_path / "ckpt2", {"model.bin": "weights-2"})
        model = tracker_core.Artifact("model", type="model")
        model.add_file(tuned / "model.bin")
        finetune.log_artifact(model)
    return {"prep": prep, "train": train, "finetune": finetune, "data": logged_data, "model": logged_model}


def test_versions_aliases_and_latest(tmp_path: Path) -> None:
    world = _three_stage_pipeline(tmp_path)
    api = tracker_core.Api()
    assert world["data"].ref == "tokenized:v0" and world["model"].ref == "model:v0"
    assert api.artifact("model:latest").ref == "model:v1"
    assert api.artifact("model:best").ref == "model:v0"
    assert api.artifact("tokenized").metadata == {"num_tokens": 2}
    assert [a.ref for a in api.artifacts()] == ["model:v0", "model:v1", "tokenized:v0"]


def test_lineage_is_recorded_both_ways(tmp_path: Path) -> None:
    world = _three_stage_pipeline(tmp_path)
    api = tracker_core.Api()
    data = api.artifact("tokenized:v0")
    assert data.logged_by().id == world["prep"].id
    assert [run.id for run in data.used_by()] == [world["train"].id]
    train = api.run(world["train"].path)
    assert [a.ref for a in train.used_artifacts()] == ["tokenized:v0"]
    assert [a.ref for a in train.logged_artifacts()] == ["model:v0"]
    assert [run.id for run in api.artifact("model:v0").used_by()] == [world["finetune"].id]


def test_tracker_lineage_prints_the_graph_up_and_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = _three_stage_pipeline(tmp_path)
    assert main(["lineage", "model:v0"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("model:v0  (model, digest ")
    assert f"made by  {world['train'].path} 'train'" in out and "from  tokenized:v0" in out
    assert f"made by  {world['prep'].path} 'prep'" in out
    assert f"used by  {world['finetune'].path} 'finetune'" in out and "made  model:v1" in out


def test_tracker_artifacts_lists_and_rm_respects_aliases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _three_stage_pipeline(tmp_path)
    assert main(["artifacts"]) == 0
    out = capsys.readouterr().out
    assert "model:v0" in out and "best" in out and "tokenized:v0" in out
    assert main(["artifacts", "rm", "model:v0"]) == 2  # the "best" alias points at it
    assert "best" in capsys.readouterr().err
    assert main(["artifacts", "rm", "model:v0", "--force"]) == 0
    assert main(["gc"]) == 0
    assert "freed" in capsys.readouterr().out
    assert [a.ref for a in tracker_core.Api().artifacts("model")] == ["model:v1"]


def test_a_non_zero_rank_can_use_an_artifact_without_recording_it(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _three_stage_pipeline(tmp_path)
    monkeypatch.setenv("RANK", "1")
    run = tracker_core.init(project="pipe")
    folder = Path(run.use_artifact("model:v1").download(tmp_path / "rank1"))
    assert (folder / "model.bin").read_text() == "weights-2"
    assert run.log_artifact(tracker_core.Artifact("other", type="x")) is None
    run.finish()
    assert [r.id for r in tracker_core.Api().artifact("model:v1").used_by()] == []

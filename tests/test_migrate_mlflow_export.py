"""``tracker export --to mlflow`` into a real MLflow SQLite store, again (idempotent), and back
(ours -> MLflow -> ours equal point by point, or listed in the fidelity report)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests._mlflow_stores import MlflowClient, mlflow_server, source_points
from tracker_core import Api, Artifact, Image, init
from tracker_core.migrate import export_mlflow, flatten_config, import_mlflow, mlflow_key

CONFIG = {"lr": 3e-4, "optimizer": {"name": "adam", "betas": [0.9, 0.999]}, "epochs": 3, "amp": True,
          "seed_text": "5", "weird key!": 1, "empty": None}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's SQLite store puts its default artifact root, ./mlruns, in the working folder: keep it in tmp."""
    monkeypatch.chdir(tmp_path)


def _numeric(value: Any) -> bool:
    return isinstance(value, (bool, int, float))


def _write_runs(root: Path, tmp: Path) -> dict[str, str]:
    ids = {}
    run = init(project="p", dir=str(root), name="first", config=CONFIG, tags=["phase-1", "team=vision"],
               notes="the baseline", group="sweep-1", console="off")
    for step in (0, 3, 7, 20):
        run.log({"loss": 1.0 / (step + 1), "val/acc": step / 20, "bad key (%)": float(step), "count": step,
                 "done": step == 20}, step=step)
    run.log({"spiky": math.nan}, step=21)
    run.log({"spiky": math.inf, "note": "hello"}, step=22)
    run.log({"sample": Image(np.zeros((4, 4, 3), dtype=np.uint8))}, step=23)
    run.summary["best"] = 0.1
    (tmp / "weights.bin").write_bytes(os.urandom(1000))
    artifact = Artifact("model", "model")
    artifact.add_file(str(tmp / "weights.bin"))
    run.log_artifact(artifact)
    ids["first"] = run.id
    run.finish()
    run = init(project="p", dir=str(root), name="failed", config={f"p{i}": i for i in range(150)}, console="off")
    for step in range(3):
        run.log({f"m{k}": float(k * step) for k in range(900)}, step=step)  # 2,700 points: several batches
    ids["failed"] = run.id
    run.finish(exit_code=1)
    return ids


def test_export_round_trip_and_re_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "ours"
    ids = _write_runs(root, tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    api = Api(str(root))
    fidelity = export_mlflow(api, "p", uri, progress=False)
    assert not fidelity.errors, fidelity.errors
    assert fidelity.moved["runs"] == 2
    lost = {(kind, reason): n for (kind, reason), n in fidelity.lost.items()}
    assert lost[("points", "str values (MLflow metrics are numbers)")] == 1
    assert lost[("media", "image (MLflow metrics are numbers)")] == 1
    assert lost[("summary values", "set in the summary, not logged in the history (MLflow has no summary)")] == 1
    assert lost[("config values", "text that reads back as a number, bool or None in MLflow's params")] == 1

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("p")
    assert experiment is not None
    exported = {r.data.tags["tracker.run_id"]: r for r in client.search_runs([experiment.experiment_id])}
    assert set(exported) == set(ids.values())
    first = exported[ids["first"]]
    ours = api.run(f"p/{ids['first']}")
    assert first.info.status == "FINISHED" and exported[ids["failed"]].info.status == "FAILED"
    assert first.info.start_time == round(ours.created_at.timestamp() * 1000)  # type: ignore[union-attr]
    assert first.data.params == {mlflow_key(k): str(v) for k, v in flatten_config(CONFIG)}
    assert first.data.tags["phase-1"] == "" and first.data.tags["team"] == "vision"
    assert first.data.tags["mlflow.note.content"] == "the baseline" and first.data.tags["tracker.group"] == "sweep-1"
    assert "bad key ___" in first.data.metrics
    expected = {}
    for row in ours.history():
        for key, value in row.items():
            if key not in ("_step", "_timestamp") and _numeric(value):
                number = float(value) if not math.isinf(value) else math.copysign(sys.float_info.max, value)
                expected.setdefault(mlflow_key(key), []).append(
                    (row["_step"], round(row["_timestamp"] * 1000), repr(number)))
    assert source_points(client, first.info.run_id) == {k: sorted(v) for k, v in expected.items()}  # point by point
    assert len(exported[ids["failed"]].data.params) == 150
    assert sum(len(v) for v in source_points(client, exported[ids["failed"]].info.run_id).values()) == 2700
    assert [a.path for a in client.list_artifacts(first.info.run_id, "artifacts")] == ["artifacts/model"]

    again = export_mlflow(api, "p", uri, progress=False)  # nothing changed: nothing written
    assert again.moved["runs unchanged"] == 2 and again.moved["points"] == 0
    resumed = init(project="p", dir=str(root), id=ids["first"], resume="must", config={"lr": 1e-3}, console="off",
                   allow_val_change=True)
    resumed.log({"loss": 0.01}, step=30)
    resumed.finish()
    updated = export_mlflow(Api(str(root)), "p", uri, progress=False)
    assert updated.moved["runs"] == 1 and updated.moved["points"] == 1  # only the new point
    assert updated.lost[("config values", "changed since the last export (MLflow params cannot change)")] == 1
    assert len(client.search_runs([experiment.experiment_id])) == 2  # never a duplicate
    assert client.get_run(first.info.run_id).data.params["lr"] == "0.0003"

    back = tmp_path / "back"
    imported = import_mlflow(uri, "p", str(back), progress=False)
    assert not imported.errors
    again_ours = Api(str(root)).run(f"p/{ids['first']}")
    theirs = Api(str(back)).run(f"p/{first.info.run_id}")
    assert theirs.name == again_ours.name and theirs.notes == again_ours.notes and theirs.group == "sweep-1"
    assert sorted(theirs.tags) == sorted(again_ours.tags)
    assert theirs.status == "finished" and Api(str(back)).run(f"p/{exported[ids['failed']].info.run_id}").status \
        == "failed"
    assert theirs.created_at is not None and again_ours.created_at is not None
    assert round(theirs.created_at.timestamp() * 1000) == round(again_ours.created_at.timestamp() * 1000)
    # config: equal, but for the string "5" (listed) and the value MLflow kept from the first export (listed)
    assert theirs.config == {**CONFIG, "seed_text": 5, "lr": 3e-4}
    # history: every numeric point equal in value, step and (to the millisecond) time; text and media listed
    def points(run: Any) -> dict[tuple[str, int], tuple[int, str]]:
        return {(k, row["_step"]): (round(row["_timestamp"] * 1000), repr(float(v))) for row in run.history()
                for k, v in row.items() if k not in ("_step", "_timestamp") and _numeric(v)}

    assert points(theirs) == points(again_ours)


def test_the_cli_exports_a_project(tmp_path: Path) -> None:
    root = tmp_path / "ours"
    run = init(project="cli", dir=str(root), console="off")
    run.log({"x": 1.0}, step=5)
    run.finish()
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(Path(__file__).resolve().parent.parent))}
    uri = f"sqlite:///{tmp_path / 'out.db'}"
    command = [sys.executable, "-m", "tracker_core.cli", "--dir", str(root), "export", "--to", "mlflow", "-p", "cli",
               "--tracking-uri", uri]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert "Fidelity: local store" in done.stdout and "1/1 runs" in done.stderr
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("cli")
    assert experiment is not None
    [exported] = client.search_runs([experiment.experiment_id])
    assert [(m.step, m.value) for m in client.get_metric_history(exported.info.run_id, "x")] == [(5, 1.0)]
    done = subprocess.run([*command[:-4], "-p", "nope", "--tracking-uri", uri], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path, check=False)
    assert done.returncode == 2 and "no runs to export in project 'nope'" in done.stderr


def test_keys_mlflow_refuses_are_rewritten_uniquely() -> None:
    assert mlflow_key("ok/key.name-1 x") == "ok/key.name-1 x"
    assert mlflow_key("a:b%c") == "a_b_c"
    assert mlflow_key("/lead//double/./dots/../") == "_/lead/_/double/_/dots/_/_"
    assert len(mlflow_key("k" * 400)) == 250


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "server").mkdir()
    yield from mlflow_server(tmp_path / "server")


def test_export_to_a_real_mlflow_server_in_batches(server: str, tmp_path: Path) -> None:
    """Over REST: 150 params, 2,700 points and an artifact arrive whole, split within MLflow's batch limits."""
    root = tmp_path / "ours"
    ids = _write_runs(root, tmp_path)
    fidelity = export_mlflow(Api(str(root)), "p", server, experiment="from-tracker", progress=False)
    assert not fidelity.errors, fidelity.errors
    client = MlflowClient(tracking_uri=server)
    experiment = client.get_experiment_by_name("from-tracker")
    assert experiment is not None
    exported = {r.data.tags["tracker.run_id"]: r for r in client.search_runs([experiment.experiment_id])}
    big = exported[ids["failed"]]
    assert len(big.data.params) == 150 and big.info.status == "FAILED"
    assert sum(len(v) for v in source_points(client, big.info.run_id).values()) == 2700
    folder = client.download_artifacts(exported[ids["first"]].info.run_id, "artifacts/model", str(tmp_path / "dl"))
    assert Path(folder, "weights.bin").read_bytes() == (tmp_path / "weights.bin").read_bytes()
    assert export_mlflow(Api(str(root)), "p", server, experiment="from-tracker", progress=False).moved[
        "runs unchanged"] == 2

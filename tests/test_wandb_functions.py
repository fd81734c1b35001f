"""W&B's module functions and Run members beyond logging: save/restore, models, code, login and friends."""

from __future__ import annotations

import json
import os
import signal
import time
import warnings
from pathlib import Path

import pytest
from _procs import Child

import tracker_core
from tracker_core import Api, ArtifactError, RunStateError, SettingsError, TrackerWarning, _saved_files, _wandb_init


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in a fresh folder (save() globs are relative to it), with an empty warn-once memory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(_wandb_init, "_warned", set())
    monkeypatch.setattr(_saved_files, "LIVE_CHECK_SECONDS", 0.05)
    return tmp_path


def _files(run: tracker_core.Run) -> Path:
    return Path(run.dir or "", "files")


def _wait_for(condition: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_save_now_copies_the_matching_files_keeping_their_folders(in_tmp: Path) -> None:
    (in_tmp / "ckpt").mkdir()
    for name in ("a.pt", "b.pt", "c.txt"):
        (in_tmp / "ckpt" / name).write_bytes(name.encode())
    run = tracker_core.init(project="files")
    saved = tracker_core.save("ckpt/*.pt", policy="now")
    assert saved == [str(_files(run) / "ckpt" / "a.pt"), str(_files(run) / "ckpt" / "b.pt")]
    assert (_files(run) / "ckpt" / "b.pt").read_bytes() == b"b.pt"
    assert run.save("ckpt/c.txt", base_path="ckpt", policy="now") == [str(_files(run) / "c.txt")]
    (in_tmp / "ckpt" / "a.pt").write_bytes(b"changed")
    run.finish()
    assert (_files(run) / "ckpt" / "a.pt").read_bytes() == b"a.pt"  # "now" copied once


def test_save_live_copies_again_when_the_file_changes_and_at_the_end(in_tmp: Path) -> None:
    log = in_tmp / "progress.txt"
    log.write_text("epoch 1")
    run = tracker_core.init(project="files")
    run.save("progress.txt")  # live is W&B's default
    copy = _files(run) / "progress.txt"
    assert copy.read_text() == "epoch 1"
    log.write_text("epoch 1\nepoch 2")
    assert _wait_for(lambda: copy.read_text() == "epoch 1\nepoch 2")
    log.write_text("epoch 1\nepoch 2\nepoch 3 (the last)")
    run.finish()  # the last change is copied at the end even if the checker did not see it yet
    assert copy.read_text() == "epoch 1\nepoch 2\nepoch 3 (the last)"


def test_save_end_copies_when_the_run_ends(in_tmp: Path) -> None:
    (in_tmp / "final.json").write_text("{}")
    run = tracker_core.init(project="files")
    run.save("final.json", policy="end")
    assert not (_files(run) / "final.json").exists()
    (in_tmp / "final.json").write_text('{"acc": 0.9}')
    run.finish()
    assert json.loads((_files(run) / "final.json").read_text()) == {"acc": 0.9}


def test_save_of_absolute_paths_and_of_paths_inside_the_run(in_tmp: Path) -> None:
    (in_tmp / "outer" / "inner").mkdir(parents=True)
    (in_tmp / "outer" / "inner" / "w.bin").write_bytes(b"w")
    run = tracker_core.init(project="files")
    with pytest.warns(TrackerWarning, match="matched no file"):
        assert run.save(str(in_tmp / "nothing*.bin")) == []
    assert run.save(str(in_tmp / "outer" / "inner" / "w.bin"), policy="now") == [str(_files(run) / "inner" / "w.bin")]
    Path(run.dir or "", "model.h5").write_bytes(b"h5")  # W&B scripts write into run.dir, then save it
    assert run.save(os.path.join(run.dir or "", "model.h5"), policy="now") == [str(_files(run) / "model.h5")]
    (_files(run) / "direct.txt").write_text("x")
    assert run.save(str(_files(run) / "direct.txt")) == [str(_files(run) / "direct.txt")]
    run.finish()
    assert (_files(run) / "model.h5").read_bytes() == b"h5"


def test_save_refuses_bad_arguments_and_ignores_urls(in_tmp: Path) -> None:
    (in_tmp / "x.txt").write_text("x")
    run = tracker_core.init(project="files")
    with pytest.raises(SettingsError, match="policy"):
        run.save("x.txt", policy="sometimes")
    with pytest.raises(SettingsError, match="base_path"):
        run.save("x.txt", base_path="/elsewhere")
    with pytest.warns(TrackerWarning, match="cloud storage URL"):
        assert run.save("s3://bucket/x.txt") == []
    run.finish()
    with pytest.raises(RunStateError):
        tracker_core.save("x.txt")


def test_a_saved_file_that_vanishes_is_warned_about_and_the_run_ends_well(in_tmp: Path) -> None:
    (in_tmp / "gone.txt").write_text("x")
    run = tracker_core.init(project="files")
    run.save("gone.txt", policy="end")
    (in_tmp / "gone.txt").unlink()
    with pytest.warns(TrackerWarning, match="could not be copied"):
        run.finish()
    assert Api().run(run.path).status == "finished"


def test_restore_brings_a_stored_file_back(in_tmp: Path) -> None:
    (in_tmp / "weights.txt").write_text("trained")
    run = tracker_core.init(project="files", id="trained")
    run.save("weights.txt", policy="now")
    run.finish()
    with pytest.raises(SettingsError, match="run_path"):
        tracker_core.restore("weights.txt")
    handle = tracker_core.restore("weights.txt", run_path="my-team/files/trained", root=str(in_tmp / "back"))
    assert handle is not None and handle.read() == "trained"
    handle.close()
    assert tracker_core.restore("missing.txt", run_path="files/trained", root=str(in_tmp / "back")) is None
    later = tracker_core.init(project="files")
    restored = later.restore("weights.txt", run_path="files/trained")  # into the active run's files/
    assert restored is not None and restored.read() == "trained"
    restored.close()
    assert (_files(later) / "weights.txt").read_text() == "trained"
    later.finish()


def test_log_model_use_model_and_link_model(in_tmp: Path) -> None:
    (in_tmp / "model.pt").write_bytes(b"weights v1")
    run = tracker_core.init(project="models")
    assert tracker_core.log_model("model.pt", name="classifier-weights", aliases=["best"]) is None
    path = tracker_core.use_model("classifier-weights:best")
    assert Path(path).read_bytes() == b"weights v1" and Path(path).name == "model.pt"
    linked = run.link_model("model.pt", "classifier", aliases=["production"])
    assert linked is not None and linked.ref == "classifier:v0" and "production" in linked.aliases
    assert linked.type == "model" and linked.digest == Api().artifact("classifier-weights:best").digest
    with pytest.raises(ArtifactError, match="only the name"):
        run.link_model("model.pt", "team/model-registry/classifier")
    run.log_model(str(in_tmp / "model.pt"))  # default name: run-<id>-<basename>
    assert Api().artifact(f"run-{run.id}-model.pt").type == "model"
    tracker_core.log_artifact("model.pt", name="not-a-model", type="dataset")
    with pytest.raises(ArtifactError, match="not a model"):
        run.use_model("not-a-model")
    with pytest.raises(ArtifactError, match="type 'dataset'"):
        run.use_artifact("not-a-model", type="model")
    assert run.use_artifact("my-team/models/not-a-model:latest").type == "dataset"  # W&B's prefix is ignored
    run.finish()
    kinds = [(a["direction"], a["name"]) for a in Api().run(run.path)._full_state().artifacts]
    assert ("linked", "classifier") in kinds and ("used", "classifier-weights") in kinds


def test_log_code_logs_the_code_files_as_a_code_artifact(in_tmp: Path) -> None:
    (in_tmp / "pkg").mkdir()
    (in_tmp / "pkg" / "model.py").write_text("class Model: ...")
    (in_tmp / "train.py").write_text("print('train')")
    (in_tmp / "requirements.txt").write_text("torch")
    (in_tmp / "notes.md").write_text("not code")
    (in_tmp / "wandb").mkdir()
    (in_tmp / "wandb" / "old.py").write_text("left out")
    run = tracker_core.init(project="code", dir=str(in_tmp / "tracker_runs"))
    logged = run.log_code()
    assert logged is not None and logged.type == "code"
    assert sorted(f["path"] for f in logged.files()) == ["pkg/model.py", "requirements.txt", "train.py"]
    only = run.log_code(".", name="just-train", include_fn=lambda path, root: path.endswith("train.py"))
    assert only is not None and [f["path"] for f in only.files()] == ["train.py"]
    without = run.log_code(".", name="no-pkg", exclude_fn=lambda path: "pkg" in path)
    assert without is not None and "pkg/model.py" not in [f["path"] for f in without.files()]
    with pytest.warns(TrackerWarning, match="found no code file"):
        assert run.log_code(str(in_tmp / "pkg"), include_fn=lambda path: False) is None
    run.finish()


def test_run_members_w_b_scripts_read() -> None:
    before = time.time()
    run = tracker_core.init(project="members")
    assert run.url is None and run.offline and not run.resumed
    assert before - 1 <= run.start_time <= time.time()
    run.finish()
    disabled = tracker_core.init(project="members", mode="disabled")
    assert not disabled.offline and disabled.url is None and disabled.save("x") == []
    disabled.finish()


def test_login_setup_require_teardown_and_mark_preempting() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tracker_core.login(key="0123456789abcdef", relogin=True, host="https://api.wandb.ai") is True
        assert tracker_core.login() is True
        tracker_core.require("core")
        tracker_core.require(experiment=["service"])
    run = tracker_core.init(project="misc")
    tracker_core.mark_preempting()
    tracker_core.teardown(exit_code=3)
    assert tracker_core.run is None
    stored = Api().run(run.path)
    assert stored.status == "failed" and stored.exit_code == 3 and stored.preempted
    assert "0123456789abcdef" not in Path(run.dir or "", "events.jsonl").read_text()


def test_settings_keeps_what_it_was_given() -> None:
    settings = tracker_core.Settings(mode="offline", api_key="secret-value")
    settings.update({"console": "off"}, silent=True)
    assert settings.mode == "offline" and settings.to_dict()["console"] == "off" and settings.silent
    assert "secret-value" not in repr(settings)
    with pytest.raises(AttributeError):
        _ = settings.not_given


def test_link_artifact_links_a_new_or_a_stored_version_into_a_collection(in_tmp: Path) -> None:
    (in_tmp / "w.bin").write_bytes(b"w")
    run = tracker_core.init(project="links")
    artifact = tracker_core.Artifact("detector", type="model")
    artifact.add_file("w.bin")
    linked = run.link_artifact(artifact, "wandb-registry-model/detectors", aliases=["candidate"])
    assert linked is not None and linked.ref == "detectors:v0" and "candidate" in linked.aliases
    stored = Api().artifact("detector:latest")
    again = run.link_artifact(stored, "team/model-registry/vision-models")
    assert again is not None and again.digest == stored.digest and again.type == "model"
    run.finish()
    directions = [a["direction"] for a in Api().run(run.path)._full_state().artifacts]
    assert directions == ["logged", "linked", "linked"]  # linking a stored version logs nothing new


def test_end_files_are_saved_when_the_run_is_killed_by_sigterm(tmp_path: Path) -> None:
    body = """
    import time, tracker_core as wandb
    run = wandb.init(project="killed")
    open("last.txt", "w").write("before")
    run.save("last.txt", policy="end")
    open("last.txt", "w").write("at the end")
    print("DIR", run.dir, flush=True)
    time.sleep(600)
    """
    with Child(tmp_path, body) as child:
        line = child.expect("DIR ")
        os.kill(child.pid, signal.SIGTERM)
        child.wait(120)  # generous: on a loaded machine the child may wait long for a core
    run_dir = Path(line.split("DIR ", 1)[1].strip())
    assert (run_dir / "files" / "last.txt").read_text() == "at the end"
    assert Api().run(f"killed/{run_dir.name}").status == "killed"

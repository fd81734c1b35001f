"""TrackerLogger with a real Lightning Trainer on CPU: metrics, hyperparameters, checkpoints, final
states, resume. The multi-process launches (ddp, ddp_spawn, torchrun) are in test_lightning_ddp.py."""

from __future__ import annotations

import os
import signal
import sys
from argparse import Namespace
from pathlib import Path

import pytest

pytest.importorskip("lightning")

from _lightning_tiny import Tiny, loader, trainer
from _procs import Child, child_env, events, only_run, run_script
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import AttributeDict

import tracker_core
from integrations.lightning import TrackerLogger

TESTS = str(Path(__file__).parent)


def tiny_env() -> dict[str, str]:
    return child_env(PYTHONPATH=TESTS)


def fit(logger: TrackerLogger, model: Tiny | None = None, **options: object) -> Tiny:
    model = model or Tiny()
    trainer(**{"logger": logger, "enable_checkpointing": False, **options}).fit(model, loader(), loader())
    return model


# ----- metrics, steps, hyperparameters ---------------------------------------------------------------


def test_metrics_go_to_the_global_step_with_epoch_and_both_series_of_on_step_on_epoch() -> None:
    logger = TrackerLogger(project="p", name="run-a", tags=["phase-1"])
    fit(logger)
    stored = only_run("p")
    assert (stored.id, stored.name, stored.tags) == (logger.version, "run-a", ["phase-1"])
    rows = stored.history()
    assert [row["_step"] for row in rows] == list(range(8))  # 2 epochs of 4 batches
    assert all(row["trainer/global_step"] == row["_step"] for row in rows)
    assert [row["epoch"] for row in rows] == [0] * 4 + [1] * 4
    assert all("train/loss_step" in row for row in rows)
    epoch_ends = [row["_step"] for row in rows if "val/loss" in row]
    assert epoch_ends == [row["_step"] for row in rows if "train/loss_epoch" in row] == [3, 7]
    assert not [e for e in events(stored) if e["type"] == "log_aside"]
    assert "_tracker/out_of_order_records" not in stored.summary
    assert stored.summary["trainer/global_step"] == 7


def test_hyperparameters_of_every_kind_are_recorded_readably() -> None:
    logger = TrackerLogger(project="p")
    fit(logger, Tiny(lr=0.01, marker=2.0))
    logger.log_hyperparams(Namespace(batch_size=8, optimizer=Namespace(name="SGD", betas=(0.9, 0.99))))
    logger.log_hyperparams(AttributeDict(schedule={"warmup": 10, "fn": len}, device=object(), lr=0.02))
    config = tracker_core.Api().run(logger.experiment.path).config
    assert config["lr"] == 0.02 and config["marker"] == 2.0  # the model's hparams, then changed
    assert config["batch_size"] == 8
    assert config["optimizer"] == {"name": "SGD", "betas": [0.9, 0.99]}
    assert config["schedule"] == {"warmup": 10, "fn": "len"}
    assert config["device"].startswith("<object object at")


def test_fit_then_test_land_in_one_run_that_stays_open_until_the_process_ends() -> None:
    logger = TrackerLogger(project="p")
    model = Tiny()
    tr = trainer(logger=logger, enable_checkpointing=False)
    tr.fit(model, loader(), loader())
    tr.test(model, loader())
    stored = only_run("p")
    assert stored.status == "running"  # finalize("success") came twice; the run ends at exit or finish()
    assert "test/loss" in stored.summary and "val/loss" in stored.summary
    assert tracker_core.run is logger.experiment


def test_the_run_ends_at_process_exit_as_finished(tmp_path: Path) -> None:
    result = run_script(tmp_path, """
        from _lightning_tiny import Tiny, loader, trainer
        from integrations.lightning import TrackerLogger
        logger = TrackerLogger(project="p")
        trainer(logger=logger, max_epochs=1, enable_checkpointing=False).fit(Tiny(), loader())
    """, env=tiny_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert only_run("p").status == "finished"


def test_an_active_run_is_used_and_left_open() -> None:
    run = tracker_core.init(project="p", name="sweep-trial", config={"trial": 3})
    logger = TrackerLogger(project="ignored-for-an-active-run")
    assert logger.experiment is run
    fit(logger)
    assert tracker_core.Api().runs("ignored-for-an-active-run") == []
    stored = only_run("p")
    assert stored.config["trial"] == 3 and stored.config["lr"] == 0.05
    assert stored.status == "running"
    assert len(stored.history()) == 8


def test_run_given_explicitly() -> None:
    mine = tracker_core.init(project="p", name="mine")
    logger = TrackerLogger(run=mine)
    assert logger.experiment is mine
    fit(logger)
    assert only_run("p").name == "mine" and len(only_run("p").history()) == 8


def test_a_non_zero_rank_writes_nothing(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    logger = TrackerLogger(project="p", log_model=True)
    assert logger.experiment.disabled
    model = Tiny()
    logger.watch(model)
    trainer(logger=logger, max_epochs=1, callbacks=[ModelCheckpoint(dirpath=str(store.parent / "ckpt"))]).fit(
        model, loader())
    logger.log_table("t", columns=["a"], data=[[1]])
    assert not store.exists() or not any(store.iterdir())


def test_setup_mistakes_raise_at_once() -> None:
    with pytest.raises(tracker_core.SettingsError, match="log_model"):
        TrackerLogger(log_model="best")
    with pytest.raises(tracker_core.SettingsError, match="run="):
        TrackerLogger(project="p", run=tracker_core.init(project="p"))
    tracker_core.finish()
    with pytest.raises(tracker_core.SettingsError, match="offline"):
        TrackerLogger(project="p", offline="yes")
    with pytest.raises(tracker_core.SettingsError, match="colour"):
        TrackerLogger(project="p", colour="red")  # an unknown option of init
    with pytest.raises(tracker_core.SettingsError, match="save_dir"):
        TrackerLogger(save_dir="a", dir="b")
    with pytest.raises(tracker_core.SettingsError, match="version"):
        TrackerLogger(id="a", version="b")


def test_logger_directories_follow_the_run() -> None:
    logger = TrackerLogger(project="p")
    run = logger.experiment
    assert (logger.name, logger.version) == ("p", run.id)
    assert logger.log_dir == run.dir and os.path.dirname(run.dir) == logger.root_dir
    assert os.path.dirname(logger.root_dir) == logger.save_dir


# ----- media, watch, graph --------------------------------------------------------------------------


def test_media_watch_and_model_summary() -> None:
    np = pytest.importorskip("numpy")
    logger = TrackerLogger(project="p", log_graph=True)
    model = Tiny()
    logger.watch(model, log="all", log_freq=1)
    fit(logger, model)
    logger.log_image("samples", [np.zeros((4, 4), dtype=np.uint8), np.ones((4, 4), dtype=np.uint8)],
                     caption=["zeros", "ones"])
    logger.log_table("preds", columns=["x", "y"], data=[[1, 2.0], [3, 4.0]], step=9)
    logger.log_text("notes", columns=["text"], data=[["fine"]])
    stored = only_run("p")
    rows = stored.history()
    assert "gradients/net.weight" in rows[0] and "parameters/net.bias" in rows[0]
    images = next(row["samples"] for row in rows if "samples" in row)
    assert [image.fields.get("caption") for image in images.items] == ["zeros", "ones"]
    table = next(row for row in rows if "preds" in row)
    assert table["_step"] == table["trainer/global_step"] == 9 and table["preds"].rows() == [[1, 2.0], [3, 4.0]]
    assert stored.summary["model/total_parameters"] == 5
    assert "net" in Path(stored.dir, "files", "model_summary.txt").read_text()


def test_a_failing_log_call_warns_once_and_training_goes_on() -> None:
    logger = TrackerLogger(project="p")
    fit(logger)
    with pytest.raises(ValueError, match="Expected 2 items but only found 1 for caption"):  # as WandbLogger
        logger.log_image("bad", [1, 2], caption=["only one"])
    with pytest.warns(tracker_core.TrackerWarning, match="'bad'"):  # a value that is no image: left out, warned
        logger.log_image("bad", [object()])
    with pytest.warns(tracker_core.TrackerWarning, match="left out 'weird'"):
        logger.log_metrics({"weird": object(), "fine": 1.0}, step=20)
    assert only_run("p").summary["fine"] == 1.0


# ----- checkpoints as artifacts ---------------------------------------------------------------------


def test_log_model_true_logs_best_and_last_once_after_fit_with_lineage() -> None:
    logger = TrackerLogger(project="p", log_model=True)
    checkpoint = ModelCheckpoint(monitor="val/loss", save_top_k=2, save_last=True)
    model = Tiny()
    tr = trainer(logger=logger, max_epochs=3, callbacks=[checkpoint])
    tr.fit(model, loader(), loader())
    tr.test(model, loader())  # a second finalize("success"): nothing logged again
    assert os.path.dirname(checkpoint.best_model_path) == os.path.join(logger.log_dir, "checkpoints")
    api = tracker_core.Api()
    stored = only_run("p")
    logged = stored.logged_artifacts()
    assert len({a.digest for a in logged}) == len(logged)  # no content logged twice
    best = api.artifact(f"model-{logger.version}:best")
    assert best.metadata["score"] == pytest.approx(float(checkpoint.best_model_score))
    assert best.metadata["monitor"] == "val/loss"
    assert best.metadata["original_filename"] == os.path.basename(checkpoint.best_model_path)
    assert best.logged_by().id == stored.id
    latest = api.artifact(f"model-{logger.version}:latest")
    with open(checkpoint.last_model_path, "rb") as file:
        assert Path(latest.download(), "model.ckpt").read_bytes() == file.read()
    # never stored twice on disk: the store's blob is the checkpoint file itself
    sha = {entry["path"]: entry["sha256"] for entry in best.files()}["model.ckpt"]
    assert os.path.samefile(Path(api.root, "artifacts", "blobs", sha[:2], sha), checkpoint.best_model_path)


def test_log_model_all_logs_each_checkpoint_as_saved() -> None:
    logger = TrackerLogger(project="p", log_model="all", checkpoint_name="tiny")
    checkpoint = ModelCheckpoint(monitor="val/loss", save_top_k=-1)
    fit(logger, enable_checkpointing=True, callbacks=[checkpoint], max_epochs=3)
    logged = only_run("p").logged_artifacts()
    assert len(logged) == 3 == len(checkpoint.best_k_models)
    assert tracker_core.Api().artifact("tiny:best").metadata["original_filename"] == os.path.basename(
        checkpoint.best_model_path)


def test_log_model_false_logs_none() -> None:
    logger = TrackerLogger(project="p")
    fit(logger, enable_checkpointing=True, callbacks=[ModelCheckpoint(monitor="val/loss")])
    assert only_run("p").logged_artifacts() == []


def test_a_checkpoint_that_cannot_be_logged_is_warned_about_and_training_goes_on() -> None:
    logger = TrackerLogger(project="p", log_model="all", checkpoint_name="not a valid name!")
    with pytest.warns(tracker_core.TrackerWarning, match="log_model"):
        fit(logger, enable_checkpointing=True, callbacks=[ModelCheckpoint()], max_epochs=2)
    assert len(only_run("p").history()) == 8


# ----- resume ---------------------------------------------------------------------------------------


def test_resume_from_a_checkpoint_rewinds_and_sets_nothing_aside() -> None:
    first = TrackerLogger(project="p")
    checkpoint = ModelCheckpoint(monitor="val/loss", save_top_k=-1)
    trainer(logger=first, max_epochs=3, callbacks=[checkpoint]).fit(Tiny(marker=0.0), loader(), loader())
    run_id = first.version
    tracker_core.finish()
    after_epoch_0 = next(path for path in checkpoint.best_k_models if "epoch=0" in path)  # global step 4

    second = TrackerLogger(project="p", id=run_id, resume="allow")
    trainer(logger=second, max_epochs=3).fit(Tiny(marker=1.0), loader(), loader(), ckpt_path=after_epoch_0)
    stored = only_run("p")
    rows = stored.history()
    assert [row["_step"] for row in rows] == list(range(12))
    assert [row["marker"] for row in rows] == [0.0] * 4 + [1.0] * 8  # steps 4.. come from the resumed fit
    assert [e["step"] for e in events(stored) if e["type"] == "rewind"] == [3]
    assert not [e for e in events(stored) if e["type"] == "log_aside"]
    assert "_tracker/out_of_order_records" not in stored.summary


# ----- final states ---------------------------------------------------------------------------------


def test_an_exception_in_training_step_ends_the_run_failed_with_the_traceback() -> None:
    logger = TrackerLogger(project="p")
    with pytest.raises(RuntimeError, match="boom"):
        fit(logger, Tiny(fail_at=2))
    stored = only_run("p")
    assert stored.status == "failed" and stored.exit_code == 1
    assert "boom in training_step" in stored.traceback and "training_step" in stored.traceback


def test_an_exception_leaves_an_attached_run_to_its_owner() -> None:
    run = tracker_core.init(project="p")
    with pytest.raises(RuntimeError, match="boom"):
        fit(TrackerLogger(), Tiny(fail_at=2))
    assert only_run("p").status == "running"
    run.finish(exit_code=3)
    assert only_run("p").status == "failed"


def test_an_uncaught_exception_in_a_script_fails_the_run(tmp_path: Path) -> None:
    result = run_script(tmp_path, """
        from _lightning_tiny import Tiny, loader, trainer
        from integrations.lightning import TrackerLogger
        trainer(logger=TrackerLogger(project="p"), enable_checkpointing=False).fit(Tiny(fail_at=1), loader())
    """, env=tiny_env(), timeout=120)
    assert result.returncode == 1
    stored = only_run("p")
    assert stored.status == "failed" and "boom in training_step" in stored.traceback


def test_keyboard_interrupt_ends_the_run_killed(tmp_path: Path) -> None:
    result = run_script(tmp_path, """
        from _lightning_tiny import Tiny, loader, trainer
        from integrations.lightning import TrackerLogger
        trainer(logger=TrackerLogger(project="p"), enable_checkpointing=False).fit(Tiny(interrupt_at=1), loader())
    """, env=tiny_env(), timeout=120)
    assert result.returncode == 1  # Lightning's own sys.exit(1) after a KeyboardInterrupt
    stored = only_run("p")
    assert (stored.status, stored.exit_code) == ("killed", 128 + signal.SIGINT)
    assert stored.signal == "SIGINT"
    assert "KeyboardInterrupt" in stored.traceback


SIGTERM_CHILD = """
    import os, signal, sys, time
    if sys.argv[1] == "own-handler":  # the program has a SIGTERM handler of its own
        signal.signal(signal.SIGTERM, lambda signum, frame: print("HANDLED", flush=True))
    from lightning.pytorch.callbacks import OnExceptionCheckpoint
    from _lightning_tiny import Tiny, loader, trainer
    from integrations.lightning import TrackerLogger
    logger = TrackerLogger(project="p")
    saved = OnExceptionCheckpoint(dirpath=os.getcwd(), filename="on_exception")
    if sys.argv[1] == "after-fit":
        trainer(logger=logger, max_epochs=1, enable_checkpointing=False).fit(Tiny(), loader())
        print("STEP after fit", flush=True)
        time.sleep(60)
    trainer(logger=logger, max_epochs=100, callbacks=[saved]).fit(Tiny(sleep=0.2), loader())
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["default", "own-handler"])
def test_sigterm_during_fit_stops_lightning_gracefully_and_ends_the_run_killed(tmp_path: Path, mode: str) -> None:
    with Child(tmp_path, SIGTERM_CHILD, mode, env=tiny_env()) as child:
        child.expect("STEP 2", timeout=90)
        os.kill(child.pid, signal.SIGTERM)
        code = child.wait(timeout=60)
        stderr = child.stderr
    stored = only_run("p")
    assert (stored.status, stored.signal, stored.exit_code) == ("killed", "SIGTERM", 128 + signal.SIGTERM), stderr
    assert "SIGTERMException" in stored.traceback  # Lightning stopped at the next step, as without a tracker
    assert (tmp_path / "on_exception.ckpt").is_file()  # so its on_exception callbacks ran
    assert code == 0, stderr  # SIGTERMException is a SystemExit without a code


@pytest.mark.slow
def test_sigterm_outside_fit_ends_the_run_killed_and_the_process_by_the_signal(tmp_path: Path) -> None:
    with Child(tmp_path, SIGTERM_CHILD, "after-fit", env=tiny_env()) as child:
        child.expect("STEP after fit", timeout=90)
        os.kill(child.pid, signal.SIGTERM)
        assert child.wait(timeout=60) == -signal.SIGTERM
    stored = only_run("p")
    assert (stored.status, stored.signal, stored.exit_code) == ("killed", "SIGTERM", 128 + signal.SIGTERM)


def test_a_slurm_requeue_ends_the_run_killed_and_preempted() -> None:
    logger = TrackerLogger(project="p")
    fit(logger)
    logger.finalize("finished")  # what Lightning's SLURM requeue handler calls before requeueing
    stored = only_run("p")
    assert (stored.status, stored.preempted) == ("killed", True)


# ----- without Lightning ----------------------------------------------------------------------------


def test_without_lightning_the_error_names_the_extra(tmp_path: Path) -> None:
    result = run_script(tmp_path, """
        import sys
        sys.modules["lightning"] = None
        import integrations.lightning
        try:
            from integrations.lightning import TrackerLogger
        except ImportError as error:
            print("IMPORT-ERROR", error)
    """, timeout=60)
    assert "IMPORT-ERROR" in result.stdout, result.stderr
    assert "pip install 'tracker[lightning]'" in result.stdout
    assert sys.modules.get("lightning") is not None  # this process is unaffected

"""Lightning's generic logger checks and its WandbLogger checks, adapted to TrackerLogger.

Lightning runs one set of checks over every logger class (``tests_pytorch/loggers/test_all.py``) and
more over WandbLogger (``test_wandb.py``), with a mocked wandb. Here the same behaviours are checked
against the real store: what Lightning hands the logger at each step, pickling with the Trainer, the
tuners leaving the logger alone, ``DummyExperiment`` on ranks above 0, the metric prefix, the default
name, the directories, checkpoints as artifacts, media and artifact downloads.
"""

from __future__ import annotations

import os
import pickle
import wave
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("lightning")

import torch
from _procs import only_run
from lightning.fabric.loggers.logger import _DummyExperiment as DummyExperiment
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.tuner.tuning import Tuner
from lightning.pytorch.utilities import rank_zero_only

import tracker_core
from integrations.lightning import TrackerLogger
from tracker_core.artifacts import ArtifactError


def quiet_trainer(root: Path, **options: Any) -> Trainer:
    defaults: dict[str, Any] = {"default_root_dir": str(root), "accelerator": "cpu", "devices": 1,
                                "enable_progress_bar": False, "enable_model_summary": False}
    return Trainer(**{**defaults, **options})


# ----- the checks every Lightning logger passes (test_all.py) -------------------------------------


class Recording(TrackerLogger):
    """Keeps what Lightning hands ``log_metrics``, as Lightning's own check does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[int | None, list[str]]] = []

    def log_metrics(self, metrics: Any, step: int | None = None) -> None:
        super().log_metrics(metrics, step)
        self.calls.append((step, sorted(metrics)))


class LoggingModel(BoringModel):
    def training_step(self, batch: Any, batch_idx: int) -> Any:
        loss = self.step(batch)
        self.log("train_some_val", loss)
        return {"loss": loss}

    def on_validation_epoch_end(self) -> None:
        self.log_dict({"early_stop_on": torch.tensor(1), "val_loss": torch.tensor(0.5)})

    def on_test_epoch_end(self) -> None:
        self.log("test_loss", torch.tensor(2))


def test_fit_then_test_hand_the_logger_lightnings_steps_and_the_store_keeps_them(tmp_path: Path) -> None:
    logger = Recording(save_dir=tmp_path, offline=True)
    trainer = quiet_trainer(tmp_path, max_epochs=1, logger=logger, limit_train_batches=1, limit_val_batches=1,
                            log_every_n_steps=1)
    trainer.fit(LoggingModel())
    trainer.test()
    assert logger.calls == [(0, ["epoch", "train_some_val"]), (0, ["early_stop_on", "epoch", "val_loss"]),
                            (1, ["epoch", "test_loss"])]
    stored = tracker_core.Api(tmp_path).run(f"lightning_logs/{logger.version}")
    rows = stored.history()
    assert [row["trainer/global_step"] for row in rows] == [0, 1]
    assert (rows[0]["val_loss"], rows[0]["early_stop_on"], rows[1]["test_loss"]) == (0.5, 1, 2)


def test_the_logger_and_a_trainer_holding_it_pickle_and_the_copy_logs_to_the_same_run(tmp_path: Path) -> None:
    logger = TrackerLogger(save_dir=tmp_path, offline=True)
    assert logger.experiment is not None
    logger.log_metrics({"a": 1}, step=0)
    logger.save()
    pickle.dumps(logger)
    trainer = quiet_trainer(tmp_path, max_epochs=1, logger=logger)
    restored = pickle.loads(pickle.dumps(trainer))
    restored.logger.log_metrics({"acc": 1.0}, step=1)
    assert (restored.logger.name, restored.logger.save_dir) == (logger.name, logger.save_dir)
    rows = tracker_core.Api(tmp_path).run(f"lightning_logs/{logger.version}").history()
    assert [(row["_step"], row.get("a"), row.get("acc")) for row in rows] == [(0, 1, None), (1, None, 1.0)]


class TunableModel(BoringModel):
    def __init__(self, lr: float = 0.1, batch_size: int = 2) -> None:
        super().__init__()
        self.save_hyperparameters()


@pytest.mark.parametrize("tune", ["lr_find", "scale_batch_size"])
def test_the_tuners_leave_the_logger_in_place(tmp_path: Path, tune: str) -> None:
    logger = TrackerLogger(save_dir=tmp_path)
    model = TunableModel()
    trainer = quiet_trainer(tmp_path, max_epochs=1, logger=logger)
    options = {"num_training": 3} if tune == "lr_find" else {"max_trials": 1, "steps_per_trial": 1}
    getattr(Tuner(trainer), tune)(model, **options)
    assert trainer.logger is logger and model.logger is logger


class RankZeroCheck(Callback):
    """On rank 0 the run, created when the logger was; elsewhere Lightning's DummyExperiment."""

    def setup(self, trainer: Trainer, pl_module: Any, stage: str) -> None:
        if trainer.global_rank == 0:
            assert trainer.logger._run is not None  # type: ignore[union-attr]

    def on_train_batch_start(self, trainer: Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
        dummy = isinstance(trainer.logger.experiment, DummyExperiment)  # type: ignore[union-attr]
        assert dummy is not trainer.is_global_zero
        if dummy:
            assert pl_module.logger.experiment.something(foo="bar") is None
            assert pl_module.logger.experiment[0].log({"x": 1}) is None


def test_ranks_above_zero_see_a_dummy_experiment_under_ddp_spawn(tmp_path: Path) -> None:
    logger = TrackerLogger(project="spawned", save_dir=tmp_path)
    trainer = quiet_trainer(tmp_path, logger=logger, strategy="ddp_spawn", devices=2, max_steps=1,
                            callbacks=[RankZeroCheck()])
    trainer.fit(BoringModel())
    assert logger.experiment.id == logger.version  # taken back from the processes Lightning started
    (stored,) = tracker_core.Api(tmp_path).runs("spawned")  # one run for the job, from rank 0
    assert stored.id == logger.version and stored.state == "running"


def test_on_a_rank_above_zero_experiment_is_the_dummy_and_nothing_is_logged(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    logger = TrackerLogger(project="ranks", save_dir=tmp_path)
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    assert isinstance(logger.experiment, DummyExperiment)
    assert logger.experiment.log({"x": 1}) is None
    logger.log_metrics({"x": 1.0}, step=0)
    logger.log_hyperparams({"lr": 0.1})
    monkeypatch.setattr(rank_zero_only, "rank", 0)
    assert isinstance(logger.experiment, tracker_core.Run)
    stored = tracker_core.Api(tmp_path).run(f"ranks/{logger.version}")
    assert stored.history() == [] and stored.config == {}


def test_the_prefix_goes_before_each_metric_name(tmp_path: Path) -> None:
    logger = TrackerLogger(save_dir=tmp_path, prefix="tmp")
    logger.log_metrics({"test": 1.0}, step=0)
    (row,) = tracker_core.Api(tmp_path).run(f"lightning_logs/{logger.version}").history()
    assert {key: row[key] for key in row if not key.startswith("_")} == {"tmp-test": 1.0, "trainer/global_step": 0}


# ----- WandbLogger's own checks (test_wandb.py) -----------------------------------------------------


@pytest.mark.parametrize(("environ", "project", "expected"), [
    ({}, None, "lightning_logs"), ({}, "project", "project"),
    ({"WANDB_PROJECT": "env_project"}, None, "env_project"), ({"WANDB_PROJECT": "env_project"}, "project", "project"),
    ({"WANDB_PROJECT": "wandb_env", "TRACKER_PROJECT": "tracker_env"}, None, "tracker_env"),
])
def test_the_name_is_the_project_defaulting_to_lightning_logs(monkeypatch: pytest.MonkeyPatch, environ: dict,
                                                              project: str | None, expected: str) -> None:
    for variable, value in environ.items():
        monkeypatch.setenv(variable, value)
    logger = TrackerLogger(project=project)
    assert logger.name == expected == logger.experiment.project
    assert only_run(expected).id == logger.version


def test_init_options_reach_the_run_and_later_stages_continue_it(tmp_path: Path) -> None:
    logger = TrackerLogger(name="test_name", save_dir=tmp_path / "test_save_dir", version="test_id",
                           project="test_project", resume="never", tags=["t"])
    logger.log_metrics({"acc": 1.0})
    logger.log_metrics({"acc": 0.5}, step=3)
    logger.finalize("success")  # a later trainer.test() goes on in the same run
    logger.log_metrics({"acc": 0.25}, step=6)
    logger.log_hyperparams({"test": None, "nested": {"a": 1}, "b": [2, 3, 4]})
    model = torch.nn.Linear(3, 1)
    logger.watch(model, "all", 1, False)  # WandbLogger's positional order
    model(torch.randn(2, 3)).sum().backward()
    logger.log_metrics({"loss": 1.0}, step=7)
    assert logger.version == logger.experiment.id == "test_id"
    stored = tracker_core.Api(tmp_path / "test_save_dir").run("test_project/test_id")
    assert (stored.name, stored.tags) == ("test_name", ["t"])
    assert stored.config == {"test": None, "nested": {"a": 1}, "b": [2, 3, 4]}
    rows = stored.history()
    assert [(row["_step"], row.get("trainer/global_step"), row.get("acc")) for row in rows] == [
        (0, None, 1.0), (3, 3, 0.5), (6, 6, 0.25), (7, 7, None)]
    assert "parameters/weight" in rows[-1] and "gradients/weight.norm" in rows[-1]


def test_a_run_already_in_progress_is_reused_and_one_given_is_used() -> None:
    mine = tracker_core.init(project="mine")
    assert TrackerLogger().experiment is mine and TrackerLogger(experiment=mine).experiment is mine
    logger = TrackerLogger(project="ignored-because-a-run-is-active")
    assert logger.name == "mine"


def test_getstate_before_spawn_keeps_the_run_id(tmp_path: Path) -> None:
    logger = TrackerLogger(save_dir=tmp_path)
    state = logger.__getstate__()
    assert state["_id"] == logger.version and state["_run"] is None and logger.experiment is not None


def test_directories_and_checkpoints_go_under_save_dir_project_version(tmp_path: Path) -> None:
    logger = TrackerLogger(project="project", save_dir=tmp_path, offline=True)
    version = logger.version
    assert (logger.name, logger.save_dir) == ("project", str(tmp_path))
    trainer = quiet_trainer(tmp_path, logger=logger, max_epochs=1, limit_train_batches=3, limit_val_batches=3)
    assert trainer.log_dir == logger.save_dir
    trainer.fit(BoringModel())
    assert trainer.checkpoint_callback.dirpath == str(tmp_path / "project" / version / "checkpoints")
    assert set(os.listdir(trainer.checkpoint_callback.dirpath)) == {"epoch=0-step=3.ckpt"}
    assert trainer.log_dir == logger.save_dir


def _fit_logging_models(tmp_path: Path, callbacks: list[Any] | None = None, epochs: int = 2,
                        **options: Any) -> tracker_core.StoredRun:
    logger = TrackerLogger(save_dir=tmp_path, **options)
    trainer = quiet_trainer(tmp_path, logger=logger, max_epochs=epochs, limit_train_batches=3, limit_val_batches=3,
                            callbacks=callbacks)
    trainer.fit(BoringModel())
    stored = tracker_core.Api(tmp_path).run(f"lightning_logs/{logger.version}")
    tracker_core.finish()
    return stored


@pytest.mark.parametrize(("log_model", "versions"), [(True, 1), ("all", 2), (False, 0)])
def test_log_model_logs_checkpoints_as_model_artifacts(tmp_path: Path, log_model: Any, versions: int) -> None:
    stored = _fit_logging_models(tmp_path, log_model=log_model)
    logged = stored.logged_artifacts()
    assert len(logged) == versions
    assert all(a.name == f"model-{stored.id}" and a.type == "model" for a in logged)
    if logged:
        assert logged[-1].metadata["original_filename"] == "epoch=1-step=6.ckpt"
        assert logged[-1].metadata["score"] is None  # nothing monitored
        assert [entry["path"] for entry in logged[-1].files()] == ["model.ckpt"]


def test_a_custom_checkpoint_name_and_a_monitored_score_as_a_python_number(tmp_path: Path) -> None:
    stored = _fit_logging_models(tmp_path, callbacks=[ModelCheckpoint(monitor="step")], epochs=1,
                                 log_model=True, checkpoint_name="my-test-model")
    (artifact,) = stored.logged_artifacts()
    assert artifact.name == "my-test-model" and "best" in artifact.aliases
    score = artifact.metadata["score"]
    assert type(score) is int and score == 3  # a scalar tensor in Lightning, a number in the metadata


def test_offline_goes_with_log_model_since_checkpoints_stay_local(tmp_path: Path) -> None:
    """WandbLogger refuses offline=True with log_model (it could not upload); the local store can keep them."""
    stored = _fit_logging_models(tmp_path, epochs=1, offline=True, log_model=True)
    assert len(stored.logged_artifacts()) == 1


def _write_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(b"\x00\x01" * 800)
    return path


def _media(stored: tracker_core.StoredRun, key: str) -> list[dict[str, Any]]:
    return [row for row in stored.history() if key in row]


def test_media_tables_and_their_argument_errors_match_wandb_logger(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    logger = TrackerLogger(save_dir=tmp_path)
    columns = ["input", "label", "prediction"]
    data = [["cheese", "english", "english"], ["fromage", "french", "spanish"]]
    logger.log_text(key="samples", columns=columns, data=data)
    logger.log_table(key="table", columns=columns, data=data, step=5)
    pandas = pytest.importorskip("pandas")
    logger.log_text(key="frame", dataframe=pandas.DataFrame({"col1": [1, 2], "col2": [3, 4]}), step=6)
    pixels = [np.zeros((4, 4, 3), dtype=np.uint8), np.full((4, 4, 3), 255, dtype=np.uint8)]
    logger.log_image(key="images", images=pixels, caption=["caption 1", "caption 2"], step=7)
    wavs = [str(_write_wav(tmp_path / f"{i}.wav")) for i in (1, 2)]
    logger.log_audio(key="audios", audios=wavs, caption=["a", "b"], step=8)
    videos = [tmp_path / "1.mp4", tmp_path / "2.gif"]
    for video in videos:
        video.write_bytes(b"not decoded, stored as it is")
    logger.log_video(key="videos", videos=[str(v) for v in videos], fps=[30, 10], step=9)
    for method, plural, item in (("log_image", "images", pixels[0]), ("log_audio", "audios", wavs[0]),
                                 ("log_video", "videos", str(videos[0]))):
        with pytest.raises(TypeError, match=f'Expected a list as "{plural}", found <class'):
            getattr(logger, method)("bad", item)
        with pytest.raises(ValueError, match="Expected 2 items but only found 1 for caption"):
            getattr(logger, method)("bad", [item, item], caption=["caption 1"])
    stored = tracker_core.Api(tmp_path).run(f"lightning_logs/{logger.version}")
    (samples,) = _media(stored, "samples")
    assert samples["samples"].kind == "table" and samples["samples"].rows() == data
    (table,) = _media(stored, "table")
    assert (table["_step"], table["trainer/global_step"]) == (5, 5)
    assert _media(stored, "frame")[0]["frame"].rows() == [[1, 3], [2, 4]]
    images = _media(stored, "images")[0]["images"].items  # a list of media reads back as one "list" value
    assert [image.fields["caption"] for image in images] == ["caption 1", "caption 2"]
    audios = _media(stored, "audios")[0]["audios"].items
    assert [(a.fields["caption"], a.fields["sample_rate"]) for a in audios] == [("a", 8000), ("b", 8000)]
    assert Path(audios[0].path).read_bytes() == Path(wavs[0]).read_bytes()
    clips = _media(stored, "videos")[0]
    assert [(v.fields["format"], v.fields["fps"]) for v in clips["videos"].items] == [("mp4", 30), ("gif", 10)]
    assert "bad" not in {key for row in stored.history() for key in row}


def test_log_image_takes_file_paths(tmp_path: Path) -> None:
    pil = pytest.importorskip("PIL.Image")
    probe = tmp_path / "probe.png"
    pil.new("RGB", (2, 2)).save(probe)
    try:
        tracker_core.Image(str(probe)).validate()
    except tracker_core.MediaError:
        pytest.skip("tracker_core.Image does not read file paths in this tree yet")
    paths = []
    for i, colour in enumerate(((255, 0, 0), (0, 0, 255))):
        paths.append(str(tmp_path / f"{i}.png"))
        pil.new("RGB", (3, 2), colour).save(paths[-1])
    logger = TrackerLogger(save_dir=tmp_path)
    logger.log_image(key="samples", images=paths, caption=["red", "blue"], step=5)
    (row,) = tracker_core.Api(tmp_path).run(f"lightning_logs/{logger.version}").history()
    assert [image.fields["caption"] for image in row["samples"].items] == ["red", "blue"]
    assert pil.open(row["samples"].items[1].path).convert("RGB").getpixel((0, 0)) == (0, 0, 255)


def test_download_artifact_records_the_use_when_a_run_is_active(tmp_path: Path, store: Path) -> None:
    producer = tracker_core.init(project="p")
    (tmp_path / "weights.bin").write_bytes(b"\x00\x01weights")
    artifact = tracker_core.Artifact("test_artifact", type="model")
    artifact.add_file(str(tmp_path / "weights.bin"))
    producer.log_artifact(artifact)
    producer.finish()
    folder = TrackerLogger.download_artifact("test_artifact", tmp_path / "plain", "model", True)  # no run active
    assert (Path(folder) / "weights.bin").read_bytes() == b"\x00\x01weights"
    logger = TrackerLogger(project="p")
    folder = TrackerLogger.download_artifact("test_artifact:v0", str(tmp_path / "used"), "model", True)
    assert Path(folder, "weights.bin").read_bytes() == b"\x00\x01weights"
    used = logger.use_artifact("test_artifact", artifact_type="model")
    assert used.ref == "test_artifact:v0"
    assert Path(used.download(tmp_path / "again"), "weights.bin").read_bytes() == b"\x00\x01weights"
    with pytest.raises(ArtifactError, match="not 'dataset'"):
        logger.use_artifact("test_artifact", artifact_type="dataset")
    consumer = tracker_core.Api().run(f"p/{logger.version}")
    assert [a.ref for a in consumer.used_artifacts()] == ["test_artifact:v0"] * 2  # downloaded, then used

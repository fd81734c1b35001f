"""Keras 3 ``TrackerCallback``: real ``fit`` and ``evaluate`` of tiny models on the torch backend."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from _procs import child_env, events, only_run, run_script

import tracker_core

# Keras picks its backend at first import. The test environment names it explicitly (the library never
# sets it); child processes get KERAS_BACKEND=torch through child_env below.
os.environ.setdefault("KERAS_BACKEND", "torch")

pytest.importorskip("torch", reason="needs torch (the 'torch' or 'dev' extra)")
np = pytest.importorskip("numpy")
keras = pytest.importorskip("keras", reason="needs keras (the 'keras' or 'dev' extra)")
if keras.backend.backend() != "torch":
    pytest.skip(f"these tests run Keras on the torch backend, not {keras.backend.backend()!r}", allow_module_level=True)

from integrations._keras_callback import parameter_histograms  # noqa: E402 - after the backend is chosen
from integrations.keras import TrackerCallback  # noqa: E402


def classifier(optimizer: Any = "adam") -> Any:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(8, activation="relu", name="hidden"),
                              keras.layers.Dense(3, activation="softmax", name="out")], name="classifier")
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data(samples: int = 64) -> tuple[Any, Any]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64") + (x[:, 1] > 1).astype("int64")


def fit(model: Any, callback: Any, **options: Any) -> Any:
    x, y = data(options.pop("samples", 64))
    return model.fit(x, y, verbose=0, callbacks=[callback], **{"batch_size": 16, "epochs": 2, **options})


def stored(run: tracker_core.Run) -> tracker_core.StoredRun:
    return tracker_core.Api().run(run.path)


# ----- what is logged ---------------------------------------------------------------------------------


def test_epoch_rows_config_and_a_later_evaluate_land_in_one_run_that_fit_does_not_finish() -> None:
    model = classifier()
    history = fit(model, TrackerCallback(project="keras", config={"experiment": "axes"}), epochs=3,
                  validation_split=0.25)
    run = tracker_core.run
    assert run is not None and stored(run).status == "running"  # the run outlives fit()
    x, y = data()
    evaluated = model.evaluate(x, y, verbose=0, return_dict=True, callbacks=[TrackerCallback()])
    run.finish()
    result = stored(run)
    rows = result.history(keys=["train/loss", "val/loss"], x="epoch")
    assert [row["epoch"] for row in rows] == [0, 1, 2]
    assert [row["train/loss"] for row in rows] == pytest.approx(history.history["loss"])
    assert [row["val/loss"] for row in rows] == pytest.approx(history.history["val_loss"])
    epoch_row = next(row for row in result.history() if "epoch" in row and "train/loss" in row)
    assert {"train/accuracy", "val/accuracy", "train/learning_rate"} <= set(epoch_row)
    assert not any(key.startswith("batch") for row in result.history() for key in row)  # log_freq="epoch"
    (eval_row,) = result.history(keys=["eval/loss", "eval/accuracy"], x="epoch")
    assert eval_row["eval/loss"] == pytest.approx(evaluated["loss"]) and eval_row["epoch"] == 2
    config = result.config
    assert config["experiment"] == "axes"
    keras_config = config["keras"]
    assert keras_config["backend"] == "torch" and keras_config["loss"] == "sparse_categorical_crossentropy"
    assert keras_config["optimizer"]["name"] == "adam"
    assert keras_config["parameters"] == {"total": model.count_params(), "trainable": 4 * 8 + 8 + 8 * 3 + 3,
                                          "non_trainable": 0}
    assert keras_config["fit"] == {"epochs": 3, "steps_per_epoch": 3, "batch_size": 16}  # 48 training samples
    rules = {e["metric"]["name"]: e["metric"]["step_metric"] for e in events(result) if e["type"] == "define_metric"}
    assert rules == {"train/*": "epoch", "val/*": "epoch", "eval/*": "epoch", "batch/*": "batch_step"}
    assert result.status == "finished"


def test_the_learning_rate_of_a_schedule_is_logged_each_epoch() -> None:
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    model = classifier(keras.optimizers.SGD(learning_rate=schedule))
    run = tracker_core.init(project="keras")
    fit(model, TrackerCallback(), epochs=3, samples=32)  # 2 batches per epoch
    rows = stored(run).history(keys=["train/learning_rate"], x="epoch")
    # read at the end of each epoch: the rate after 2, 4, 6 optimizer steps
    assert [row["train/learning_rate"] for row in rows] == pytest.approx([0.1 * 0.5**2, 0.1 * 0.5**4, 0.1 * 0.5**6])
    assert stored(run).config["keras"]["optimizer"]["learning_rate"]["class_name"] == "ExponentialDecay"


def test_both_axes_go_on_across_fit_calls_with_new_callbacks() -> None:
    model = classifier()
    run = tracker_core.init(project="keras")
    fit(model, TrackerCallback(log_freq=2), samples=48)  # 3 batches per epoch, Keras epochs 0, 1
    fit(model, TrackerCallback(log_freq=2), samples=48)  # Keras restarts at epoch 0
    fit(model, TrackerCallback(log_freq=2), samples=48, initial_epoch=4, epochs=5)  # Keras' own epoch 4
    result = stored(run)
    assert [row["epoch"] for row in result.history(keys=["train/loss"], x="epoch")] == [0, 1, 2, 3, 4]
    batch_rows = result.history(x="batch_step")
    assert [row["batch_step"] for row in batch_rows] == [2, 4, 6, 8, 10, 12, 14]  # every 2nd of 15 batches
    assert all("batch/accuracy" in row and "train/loss" not in row for row in batch_rows)
    assert not [e for e in events(result) if e["type"] == "log_aside"]


def test_log_model_logs_the_best_and_the_last_model_as_keras_files(tmp_path: Path) -> None:
    model = classifier()
    run = tracker_core.init(project="keras")
    history = fit(model, TrackerCallback(log_model=True), epochs=3, validation_split=0.25)
    api = tracker_core.Api()
    name = f"model-{run.id}"
    best, last = api.artifact(f"{name}:best"), api.artifact(f"{name}:last")
    val_losses = history.history["val_loss"]
    assert best.metadata["epoch"] == val_losses.index(min(val_losses))
    assert best.metadata["value"] == pytest.approx(min(val_losses)) and best.metadata["monitor"] == "val_loss"
    assert last.metadata["epoch"] == 2 and last.type == "model"
    folder = last.download(str(tmp_path / "last"))
    restored = keras.saving.load_model(os.path.join(folder, "model.keras"))
    x, _ = data(8)
    assert np.allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    logged = [e["aliases"] for e in events(stored(run)) if e["type"] == "artifact" and e["name"] == name]
    assert "best" in logged[0] and "last" in logged[-1]  # recorded in the run as its output


def test_watch_records_gradients_and_parameters_through_the_core_watch() -> None:
    model = classifier()
    run = tracker_core.init(project="keras")
    fit(model, TrackerCallback(log_freq="batch", watch="all", watch_freq=2, log_model=False), epochs=1, samples=64)
    assert run._watchers == []  # unwatched when fit ends
    rows = stored(run).history(keys=["batch/loss", "gradients/global_norm"], x="batch_step")
    watched = [row["batch_step"] for row in rows if "gradients/global_norm" in row]
    assert watched == [2, 4]  # stats of every 2nd backward pass join the batch row logged right after it
    full = next(row for row in stored(run).history() if "gradients/global_norm" in row)
    assert full["gradients/_functional._torch_params.classifier/hidden/kernel"].kind == "histogram"
    assert full["parameters/_functional._torch_params.classifier/out/bias"].kind == "histogram"


def test_parameter_histograms_of_other_backends_are_read_through_keras_ops() -> None:
    model = classifier()
    histograms = parameter_histograms(model)  # what watch= logs each epoch on the JAX/TensorFlow backends
    assert sorted(histograms) == ["parameters/classifier/hidden/bias", "parameters/classifier/hidden/kernel",
                                  "parameters/classifier/out/bias", "parameters/classifier/out/kernel"]
    run = tracker_core.init(project="keras")
    run.log(histograms)
    row = stored(run).history()[0]
    assert sum(row["parameters/classifier/hidden/kernel"].fields["values"]) == 4 * 8


# ----- batch-end calls on Keras' thread pool ------------------------------------------------------------


class BatchRecorder(keras.callbacks.Callback):  # type: ignore[misc]
    """Remembers each batch's loss and the thread its batch-end call ran on."""

    async_safe = True

    def __init__(self) -> None:
        super().__init__()
        self.epoch = 0
        self.losses: dict[tuple[int, int], float] = {}
        self.threads: set[str] = set()

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.threads.add(threading.current_thread().name)
        self.losses[(self.epoch, batch)] = logs["loss"]


def test_batch_rows_stay_right_when_keras_runs_batch_end_calls_on_its_thread_pool() -> None:
    assert TrackerCallback.async_safe is True
    model = classifier()
    run = tracker_core.init(project="keras")
    recorder = BatchRecorder()
    x, y = data(160)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[TrackerCallback(log_freq="batch"), recorder])
    assert recorder.threads - {threading.main_thread().name}, "Keras ran no batch-end call on its thread pool"
    rows = stored(run).history(keys=["batch/loss"], x="batch_step")
    assert [row["batch_step"] for row in rows] == list(range(1, 81))
    expected = [recorder.losses[(epoch, batch)] for epoch in range(2) for batch in range(40)]
    assert [row["batch/loss"] for row in rows] == pytest.approx(expected)


def test_concurrent_out_of_order_batch_end_calls_keep_rows_and_steps_right() -> None:
    model = classifier()
    run = tracker_core.init(project="keras")
    callback = TrackerCallback(log_freq="batch")
    callback.set_model(model)
    callback.set_params({"epochs": 2, "steps": 300, "verbose": 0})
    callback.on_train_begin()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for epoch in range(2):
            callback.on_epoch_begin(epoch)
            batches = list(range(300))
            random.Random(epoch).shuffle(batches)
            list(pool.map(lambda b: callback.on_train_batch_end(b, {"loss": float(b), "accuracy": 0.5}), batches))
            callback.on_epoch_end(epoch, {"loss": 1.0, "accuracy": 0.5})
    callback.on_train_end()
    result = stored(run)
    rows = result.history(keys=["batch/loss"], x="batch_step")
    assert [row["batch_step"] for row in rows] == list(range(1, 601))
    assert all(row["batch/loss"] == (row["batch_step"] - 1) % 300 for row in rows)
    assert [row["epoch"] for row in result.history(keys=["train/loss"], x="epoch")] == [0, 1]


# ----- set-up mistakes and failures ----------------------------------------------------------------------


@pytest.mark.parametrize("options", [{"log_freq": "step"}, {"log_freq": 0}, {"log_freq": True},
                                     {"watch": "weights"}, {"watch": "all", "watch_freq": 0},
                                     {"log_model": "yes"}, {"monitor_mode": "lowest"}, {"config": ["a"]},
                                     {"run": "my-run"}])
def test_bad_arguments_raise_at_once_with_a_hint(options: dict[str, Any]) -> None:
    with pytest.raises(tracker_core.SettingsError, match="Hint"):
        TrackerCallback(**options)


class Unsaveable(keras.layers.Layer):  # type: ignore[misc]
    def call(self, inputs: Any) -> Any:
        return inputs

    def get_config(self) -> Any:
        raise RuntimeError("this layer cannot be saved")


def test_a_failure_while_logging_warns_once_and_training_goes_on() -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((4,)), Unsaveable(), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    run = tracker_core.init(project="keras")
    with pytest.warns(tracker_core.TrackerWarning, match="_save_model") as caught:
        fit(model, TrackerCallback(log_model=True), epochs=3, validation_split=0.25)
    assert len([w for w in caught if "_save_model" in str(w.message)]) == 1
    assert [row["epoch"] for row in stored(run).history(keys=["val/loss"], x="epoch")] == [0, 1, 2]


def test_in_a_strict_run_a_failure_while_logging_raises() -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((4,)), Unsaveable(), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    tracker_core.init(project="keras", strict=True)
    with pytest.raises(RuntimeError, match="cannot be saved"):
        fit(model, TrackerCallback(log_model=True), validation_split=0.25)


def test_a_monitor_missing_from_the_epoch_metrics_is_named_once() -> None:
    tracker_core.init(project="keras")
    with pytest.warns(tracker_core.TrackerWarning, match="monitor 'val_loss' is not among"):
        fit(classifier(), TrackerCallback(log_model=True), epochs=2)  # no validation: only 'last' is logged
    assert tracker_core.Api().artifact(f"model-{tracker_core.run.id}:last").version == 0


# ----- the shared adapter contract ----------------------------------------------------------------------------


def test_an_active_run_is_used_and_left_running() -> None:
    run = tracker_core.init(project="mine")
    fit(classifier(), TrackerCallback(project="other"))
    assert tracker_core.run is run and stored(run).status == "running"
    assert len(stored(run).history(keys=["train/loss"])) == 2
    assert tracker_core.Api().runs("other") == []


def test_a_run_passed_explicitly_is_used() -> None:
    run = tracker_core.init(project="explicit")
    fit(classifier(), TrackerCallback(run=run, project="other"))
    assert len(stored(run).history(keys=["train/loss"])) == 2 and tracker_core.Api().runs("other") == []


def test_a_non_zero_rank_writes_nothing(monkeypatch: pytest.MonkeyPatch, store: Path) -> None:
    monkeypatch.setenv("RANK", "1")
    model = classifier()
    x, y = data()
    fit(model, TrackerCallback(project="ranks", log_freq="batch", log_model=True, watch="all"),
        validation_split=0.25)
    model.evaluate(x, y, verbose=0, callbacks=[TrackerCallback(project="ranks")])
    assert tracker_core.run is not None and tracker_core.run.disabled
    assert not store.exists() or not any(store.iterdir())


CHILD_PREAMBLE = """
    import sys
    import numpy as np
    import keras
    import tracker_core
    from integrations.keras import TrackerCallback

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = np.random.rand(32, 4).astype("float32"), np.random.randint(0, 3, 32)
"""


def keras_child(tmp_path: Path, body: str) -> Any:
    return run_script(tmp_path, CHILD_PREAMBLE + body, env=child_env(KERAS_BACKEND="torch"), timeout=120)


def test_a_run_the_callback_started_ends_finished_at_process_exit(tmp_path: Path) -> None:
    done = keras_child(tmp_path, """
    model.fit(x, y, epochs=2, verbose=0, callbacks=[TrackerCallback(project="exit")])
    print("after fit:", tracker_core.run is not None and not tracker_core.run.disabled)
    """)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "after fit: True" in done.stdout
    result = only_run("exit")
    assert result.status == "finished" and len(result.history(keys=["train/loss"])) == 2


def test_an_exception_escaping_fit_leaves_the_run_failed_with_the_traceback(tmp_path: Path) -> None:
    done = keras_child(tmp_path, """
    class Diverged(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise FloatingPointError("loss diverged")

    model.fit(x, y, epochs=3, verbose=0, callbacks=[TrackerCallback(project="boom"), Diverged()])
    """)
    assert done.returncode == 1 and "loss diverged" in done.stderr
    result = only_run("boom")
    assert result.status == "failed" and "FloatingPointError: loss diverged" in (result.traceback or "")
    assert [row["epoch"] for row in result.history(keys=["train/loss"], x="epoch")] == [0, 1]


def test_without_keras_the_import_error_names_the_extra(tmp_path: Path) -> None:
    done = run_script(tmp_path, """
        import sys
        sys.modules["keras"] = None  # as if Keras were not installed
        import integrations.keras
        try:
            integrations.keras.TrackerCallback
        except ImportError as exc:
            print(exc)
    """, env=child_env(KERAS_BACKEND="torch"))
    assert done.returncode == 0, done.stderr
    assert "pip install 'tracker[keras]'" in done.stdout


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is not None, reason="TensorFlow is installed here")
def test_without_a_backend_the_import_error_says_to_set_keras_backend(tmp_path: Path) -> None:
    env = child_env(KERAS_HOME=str(tmp_path / "keras_home"))  # no keras.json naming another backend
    env.pop("KERAS_BACKEND", None)
    done = run_script(tmp_path, """
        from integrations.keras import TrackerCallback
    """, env=env)
    assert done.returncode == 1
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("ImportError:") and "KERAS_BACKEND=torch" in message
    assert "tracker[keras]" not in message and "tensorflow" in done.stderr  # the cause is chained
    assert sys.modules.get("tensorflow") is None


# ----- another backend ------------------------------------------------------------------------------------


JAX_SCRIPT = """
    import json, sys, threading
    import numpy as np
    import keras
    import tracker_core
    from integrations.keras import TrackerCallback

    assert keras.backend.backend() == "jax", keras.backend.backend()
    try:
        TrackerCallback(watch="gradients")
    except tracker_core.SettingsError as exc:
        print("gradients refused:", "torch backend only" in str(exc))
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(8, activation="relu", name="hidden"),
                              keras.layers.Dense(3, activation="softmax", name="out")], name="classifier")
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")

    class Threads(keras.callbacks.Callback):
        async_safe = True
        names = set()

        def on_train_batch_end(self, batch, logs=None):
            self.names.add(threading.current_thread().name)

    callback = TrackerCallback(project=sys.argv[1], log_freq="batch", watch="all", log_model=True)
    history = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, verbose=0,
                        callbacks=[callback, Threads()])
    model.evaluate(x, y, verbose=0, callbacks=[TrackerCallback()])
    print(json.dumps({"val_loss": history.history["val_loss"],
                      "pool": sorted(Threads.names - {threading.main_thread().name})}))
"""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax (another Keras backend)")
def test_on_the_jax_backend_rows_the_schedule_parameter_histograms_and_the_model_are_logged(tmp_path: Path) -> None:
    env = child_env(KERAS_BACKEND="jax", XLA_PYTHON_CLIENT_PREALLOCATE="false")
    done = run_script(tmp_path, JAX_SCRIPT, "onjax", env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "gradients refused: True" in done.stdout
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["pool"], "Keras ran no batch-end call on its thread pool"
    result = only_run("onjax")
    assert result.status == "finished" and result.config["keras"]["backend"] == "jax"
    assert result.config["keras"]["fit"] == {"epochs": 2, "steps_per_epoch": 8, "batch_size": 8}
    epochs = result.history(x="epoch")
    epoch_rows = [row for row in epochs if "train/loss" in row]
    assert [row["epoch"] for row in epoch_rows] == [0, 1]
    assert [row["val/loss"] for row in epoch_rows] == pytest.approx(report["val_loss"])
    # 60 training samples in batches of 8: 8 batches an epoch
    assert [row["train/learning_rate"] for row in epoch_rows] == pytest.approx([0.1 * 0.5**8, 0.1 * 0.5**16])
    assert epoch_rows[0]["parameters/classifier/hidden/kernel"].kind == "histogram"
    assert not any(key.startswith("gradients/") for row in result.history() for key in row)
    assert [row["batch_step"] for row in result.history(keys=["batch/loss"], x="batch_step")] == list(range(1, 17))
    assert next(row for row in epochs if "eval/loss" in row)["epoch"] == 1
    api = tracker_core.Api()
    assert api.artifact(f"model-{result.id}:last").metadata["backend"] == "jax"
    assert api.artifact(f"model-{result.id}:best").metadata["monitor"] == "val_loss"

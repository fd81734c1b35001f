"""``TrackerCallback``: a Keras 3 callback that records ``fit`` and ``evaluate`` into a tracker run.

Imports Keras (and so its backend); reach it through ``integrations.keras``, which explains a missing
Keras or backend. Everything read from the model goes through Keras' own API (``keras.ops``), so the
callback works on every backend; only gradient watching needs the torch backend.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import tempfile
import threading
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec

import keras  # type: ignore[import-untyped]

import tracker_core
from integrations._support import attach_run, warn_once
from tracker_core._errors import SettingsError, TrackerWarning

__all__ = ["BATCH_AXIS", "EPOCH_AXIS", "TrackerCallback", "parameter_histograms", "rewrite_keys"]

EPOCH_AXIS = "epoch"
"""The x-axis of ``train/*``, ``val/*`` and ``eval/*``: epochs trained in the run, from 0."""
BATCH_AXIS = "batch_step"
"""The x-axis of ``batch/*``: batches trained in the run so far (1 after the first)."""

_WATCH = ("gradients", "parameters", "all")
_MAXIMIZED = ("acc", "auc", "precision", "recall", "f1", "fmeasure")  # monitor_mode="auto", as Keras decides

_P = ParamSpec("_P")


@dataclass
class _Progress:
    """How far training has got in one run, shared by every ``TrackerCallback`` that logs into it."""

    next_epoch: int = 0
    batches: int = 0


_progress: weakref.WeakKeyDictionary[tracker_core.Run, _Progress] = weakref.WeakKeyDictionary()


def rewrite_keys(logs: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """``val_loss`` -> ``val/loss``; any other key -> ``<prefix>/<key>`` (``loss`` -> ``train/loss``)."""
    return {("val/" + key[4:] if key.startswith("val_") else f"{prefix}/{key}"): value for key, value in logs.items()}


def parameter_histograms(model: Any) -> dict[str, Any]:
    """``parameters/<variable path>``: a histogram of each trainable variable, read through ``keras.ops``."""
    return {f"parameters/{variable.path}": tracker_core.Histogram(keras.ops.convert_to_numpy(variable).ravel())
            for variable in model.trainable_weights}


def _count(variables: list[Any]) -> int:
    return sum(math.prod(variable.shape) for variable in variables)


def _describe_loss(loss: Any) -> Any:
    """A loss as config: its name (a string, a ``Loss``'s name, a function's name), per output if several."""
    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, Mapping):
        return {str(key): _describe_loss(value) for key, value in loss.items()}
    if isinstance(loss, (list, tuple)):
        return [_describe_loss(value) for value in loss]
    return getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__


def _fit_batch_size(model: Any) -> int | None:
    """The batch size of the ``fit`` call under way, or None.

    Keras tells callbacks only epochs, steps and verbosity, so this reads the ``fit`` frame that
    called the callback: the batch size of its data adapter (what Keras uses: 32 for arrays when none
    was given), else its ``batch_size`` argument.
    """
    frame = sys._getframe(1)
    for _ in range(12):
        if frame.f_back is None:
            return None
        frame = frame.f_back
        if frame.f_code.co_name == "fit" and frame.f_locals.get("self") is model:
            adapter = getattr(frame.f_locals.get("epoch_iterator"), "data_adapter", None)
            size = getattr(adapter, "batch_size", None) if adapter is not None else None
            size = size if size is not None else frame.f_locals.get("batch_size")
            return size if isinstance(size, int) else None
    return None


_Hook = Callable[Concatenate["TrackerCallback", _P], None]


def _guarded(hook: _Hook[_P]) -> _Hook[_P]:
    """Run a piece of logging; an unexpected error is warned about once per piece and training goes on.

    A ``SettingsError`` (a set-up mistake) raises, and so does every error when the run is strict.
    """

    @functools.wraps(hook)
    def guarded(self: TrackerCallback, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        try:
            hook(self, *args, **kwargs)
        except SettingsError:
            raise
        except Exception as exc:  # logging must never kill training (DESIGN principle 1)
            if self._strict:
                raise
            warn_once(self._warned, "the Keras callback", hook.__name__, exc)

    return guarded


def _check_log_freq(value: object) -> int | None:
    """Batches between batch rows; None for epoch rows only."""
    if value == "epoch":
        return None
    if value == "batch":
        return 1
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise SettingsError("log_freq", f"{value!r} is not 'epoch', 'batch' or a number of batches >= 1",
                        "pass log_freq='epoch' (the default), log_freq='batch', or e.g. log_freq=50")


def _check_watch(watch: object, watch_freq: object) -> str | None:
    if watch is None or watch is False:
        return None
    if watch not in _WATCH:
        raise SettingsError("watch", f"{watch!r} is not one of {', '.join(_WATCH)}",
                            "pass watch='gradients', 'parameters' or 'all', or leave it out")
    if watch == "gradients" and keras.backend.backend() != "torch":
        raise SettingsError("watch", f"gradients can be watched on the torch backend only, not on "
                                     f"{keras.backend.backend()!r}",
                            "use watch='parameters' (histograms every epoch), or KERAS_BACKEND=torch")
    if not isinstance(watch_freq, int) or isinstance(watch_freq, bool) or watch_freq < 1:
        raise SettingsError("watch_freq", f"{watch_freq!r} is not a number of batches >= 1",
                            "pass e.g. watch_freq=100")
    return str(watch)


class TrackerCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Record ``model.fit`` (and ``model.evaluate`` given this callback) into a tracker run.

    The run is the one passed as ``run``, else the run active when training starts, else a new one
    started with ``project``, ``name``, ``config`` and ``init_options`` (as ``tracker_core.init``). The
    callback never finishes the run: it ends when the process exits (``finished``; ``failed`` when an
    exception escapes ``fit``) or when you call ``finish()``, so ``evaluate`` after ``fit`` lands in it.
    On a non-zero rank the run writes nothing, and the callback does nothing costly.

    Each epoch logs one row: ``epoch`` (counted across every ``fit`` in the run), ``train/<metric>``,
    ``val/<metric>`` (Keras' ``val_<metric>``) and ``train/learning_rate`` (read through ``keras.ops``
    at the end of the epoch, so a schedule's current value). With ``log_freq="batch"`` or N, every N-th
    batch logs ``batch/<metric>`` against ``batch_step``. ``evaluate(callbacks=[cb])`` logs
    ``eval/<metric>`` at the last epoch. Config: ``keras.optimizer`` (its config), ``keras.loss``,
    ``keras.parameters`` (total, trainable, non_trainable), ``keras.fit`` (epochs, steps_per_epoch,
    batch_size), ``keras.backend``, ``keras.version``.

    ``async_safe``: batch-end calls may run on Keras' thread pool (torch and JAX backends): each batch
    row is built from that call's own arguments and written by the thread-safe ``Run.log``.

    Args:
        project, name, config, init_options: for a new run; ``config`` is also merged into an existing one.
        run: log into this run.
        log_freq: ``"epoch"`` (default), ``"batch"``, or a number of batches between batch rows.
        log_model: save the model as a ``.keras`` file and log it as the model artifact ``model-<run id>``:
            alias ``best`` each epoch ``monitor`` improves, alias ``last`` when ``fit`` ends.
        monitor, monitor_mode: the epoch metric that decides ``best`` (``None``: only ``last``), and
            whether lower (``"min"``) or higher (``"max"``) is better; ``"auto"``: higher for accuracy-like names.
        watch: ``"gradients"``, ``"parameters"`` or ``"all"``. On the torch backend, the core ``watch()``
            every ``watch_freq`` batches; on other backends, parameter histograms each epoch (no gradients).

    Raises:
        SettingsError: a bad argument (at once); a bad ``init`` option or a config clash (when training starts).
    """

    async_safe = True

    def __init__(self, project: str | None = None, *, run: tracker_core.Run | None = None, name: str | None = None,
                 config: Mapping[str, Any] | None = None, log_freq: str | int = "epoch", log_model: bool = False,
                 monitor: str | None = "val_loss", monitor_mode: str = "auto", watch: str | None = None,
                 watch_freq: int = 100, **init_options: Any) -> None:
        super().__init__()
        self._every = _check_log_freq(log_freq)
        self._watch = _check_watch(watch, watch_freq)
        self._watch_freq = watch_freq
        if not isinstance(log_model, bool):
            raise SettingsError("log_model", f"{log_model!r} is not a bool", "pass log_model=True or False")
        if monitor is not None and not isinstance(monitor, str):
            raise SettingsError("monitor", f"{monitor!r} is not a metric name", "pass e.g. monitor='val_loss'")
        if monitor_mode not in ("auto", "min", "max"):
            raise SettingsError("monitor_mode", f"{monitor_mode!r} is not 'auto', 'min' or 'max'",
                                "pass monitor_mode='min' for losses, 'max' for accuracies")
        if config is not None and not isinstance(config, Mapping):
            raise SettingsError("config", f"{config!r} is not a mapping", "pass config={'key': value}")
        if run is not None and not isinstance(run, tracker_core.Run):
            raise SettingsError("run", f"{run!r} is not a tracker_core.Run",
                                "pass the run that tracker_core.init() returned")
        self._log_model = log_model
        self._monitor = monitor
        self._maximize = monitor_mode == "max" or (
            monitor_mode == "auto" and monitor is not None and any(word in monitor for word in _MAXIMIZED))
        self._config = dict(config) if config else None
        self._run_argument = run
        self._init_options = {"project": project, "name": name, **init_options}
        self._run: tracker_core.Run | None = None
        self._strict = False
        self._warned: set[str] = set()
        self._in_fit = False
        self._watching = False
        self._best: float | None = None
        self._epoch_offset: int | None = None  # added to Keras' epoch so the axis goes on across fit() calls
        self._batch_base = 0  # batches trained in the run before this epoch
        self._epoch_batches = 0  # batches seen in this epoch; batch-end calls may run on several threads
        self._lock = threading.Lock()

    # ----- the run ------------------------------------------------------------------------------

    def _attach(self) -> tracker_core.Run:
        """The run to log into (see the class docstring); metric axes and ``config`` are set once per run."""
        run, _ = attach_run(self._run_argument, **self._init_options)
        if run is not self._run:
            self._run = run
            self._strict = run.settings.strict
            if run not in _progress:
                _progress[run] = _Progress()
                for pattern in ("train/*", "val/*", "eval/*"):
                    run.define_metric(pattern, step_metric=EPOCH_AXIS)
                run.define_metric("batch/*", step_metric=BATCH_AXIS)
            if self._config:
                run.config.update(self._config)
        return run

    @property
    def _writing(self) -> bool:
        return self._run is not None and not self._run.disabled

    # ----- Keras hooks --------------------------------------------------------------------------

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        run = self._attach()
        self._in_fit = True
        self._epoch_offset = None
        if run.disabled:
            return
        self._record_config()
        if self._watch is not None and keras.backend.backend() == "torch":
            run.watch(self.model, log=self._watch, log_freq=self._watch_freq)
            self._watching = True

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        progress = _progress[self._attached()]
        if self._epoch_offset is None:
            self._epoch_offset = max(0, progress.next_epoch - epoch)
        self._batch_base = progress.batches
        self._epoch_batches = 0

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        with self._lock:
            if batch >= self._epoch_batches:
                self._epoch_batches = batch + 1
        step = self._batch_base + batch + 1
        if self._every is not None and step % self._every == 0 and self._writing:
            self._log_batch(step, logs or {})

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        # Keras has waited for every batch-end call of the epoch before calling this.
        progress = _progress[self._attached()]
        progress.batches = self._batch_base + self._epoch_batches
        current = epoch + (self._epoch_offset or 0)
        progress.next_epoch = current + 1
        if self._writing:
            self._log_epoch(current, logs or {})
            if self._log_model and self._monitor is not None:
                self._log_if_best(current, logs or {})

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self._in_fit = False
        run = self._attached()
        if self._watching:
            run.unwatch(self.model)
            self._watching = False
        if self._log_model and self._writing:
            self._save_model("last", {"epoch": _progress[run].next_epoch - 1})

    def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if not self._in_fit:  # evaluate(callbacks=[...]) of its own, not fit's validation
            self._attach()

    def on_test_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if not self._in_fit and self._writing:
            self._log_eval(logs or {})

    # ----- what is logged -----------------------------------------------------------------------

    def _attached(self) -> tracker_core.Run:
        if self._run is None:  # a hook called outside fit()/evaluate()
            return self._attach()
        return self._run

    @_guarded
    def _record_config(self) -> None:
        model = self.model
        params = self.params or {}
        optimizer = getattr(model, "optimizer", None)
        trainable, frozen = _count(model.trainable_weights), _count(model.non_trainable_weights)
        self._attached().config.update({"keras": {
            "version": keras.__version__,
            "backend": keras.backend.backend(),
            "optimizer": optimizer.get_config() if optimizer is not None else None,
            "loss": _describe_loss(getattr(model, "loss", None)),
            "parameters": {"total": trainable + frozen, "trainable": trainable, "non_trainable": frozen},
            "fit": {"epochs": params.get("epochs"), "steps_per_epoch": params.get("steps"),
                    "batch_size": _fit_batch_size(model)},
        }}, allow_val_change=True)

    @_guarded
    def _log_batch(self, step: int, logs: Mapping[str, Any]) -> None:
        self._attached().log({BATCH_AXIS: step, **rewrite_keys(logs, "batch")})

    @_guarded
    def _log_epoch(self, epoch: int, logs: Mapping[str, Any]) -> None:
        row = {EPOCH_AXIS: epoch, **rewrite_keys(logs, "train")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            row["train/learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        if self._watch in ("parameters", "all") and keras.backend.backend() != "torch":
            row.update(parameter_histograms(self.model))
        self._attached().log(row)

    @_guarded
    def _log_eval(self, logs: Mapping[str, Any]) -> None:
        self._attached().log(rewrite_keys(logs, "eval"))  # the epoch axis is filled in from the last epoch row

    @_guarded
    def _log_if_best(self, epoch: int, logs: Mapping[str, Any]) -> None:
        value = logs.get(str(self._monitor))
        if value is None:
            if "monitor" not in self._warned:
                self._warned.add("monitor")
                warnings.warn(f"tracker: monitor {self._monitor!r} is not among the epoch metrics {sorted(logs)}; "
                              f"only the last model is logged.\nHint: pass monitor= one of them, or monitor=None.",
                              TrackerWarning, stacklevel=2)
            return
        if not isinstance(value, (int, float)) or math.isnan(value):
            return
        if self._best is None or (value > self._best if self._maximize else value < self._best):
            self._best = float(value)
            self._save_model("best", {"epoch": epoch, "monitor": self._monitor, "value": float(value)})

    @_guarded
    def _save_model(self, alias: str, metadata: dict[str, Any]) -> None:
        """Save the model as ``model.keras`` and log it as a new version of ``model-<run id>`` with ``alias``."""
        run = self._attached()
        with tempfile.TemporaryDirectory(prefix="tracker-keras-") as folder:
            path = os.path.join(folder, "model.keras")
            self.model.save(path)
            artifact = tracker_core.Artifact(f"model-{run.id}", type="model", metadata={
                "format": "keras", "keras_version": keras.__version__, "backend": keras.backend.backend(), **metadata})
            artifact.add_file(path)
            run.log_artifact(artifact, aliases=[alias])

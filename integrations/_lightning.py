"""``TrackerLogger``: Lightning's ``Logger`` contract on a tracker run. Imports Lightning (use
``integrations.lightning``, which imports this module only when Lightning is installed).

What Lightning calls (``lightning/pytorch/trainer/call.py``) and what the logger makes of it:

- ``finalize("success")`` after *each* of fit, validate, test and predict: the fit's checkpoints are
  logged (``log_model=True``); the run goes on, so a later ``trainer.test()`` lands in it too. The run
  ends when the process exits or the user finishes it.
- ``finalize("failed")`` inside Lightning's exception handler: ``SIGTERMException`` or
  ``KeyboardInterrupt`` end the run ``killed``; any other exception ends a run the logger started
  ``failed`` with the traceback (a run it attached to is left to its owner, whose excepthook does it).
- ``finalize("finished")`` before a SLURM requeue: ``killed``, marked as preempted.

SIGTERM during a stage is left to Lightning, which stops at its next step with ``SIGTERMException``
(see ``_SigtermHandler``); outside a stage the tracker's handler ends the run and the process.

Under ``ddp_spawn``/``ddp_fork`` the run is handed over: the logger detaches it just before Lightning
starts its processes, rank 0 there continues it and gives it back at the end of its stage, and this
process takes it back on its next use of the logger (or at exit).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import signal
import sys
import threading
import traceback
import warnings
import weakref
from argparse import Namespace
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any, Literal

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.fabric.utilities.logger import _add_prefix
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import Logger
from lightning.pytorch.strategies.launchers.multiprocessing import _MultiProcessingLauncher
from lightning.pytorch.trainer.connectors.signal_connector import _HandlersCompose
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException
from lightning.pytorch.utilities.model_summary.model_summary import ModelSummary
from torch import Tensor
from torch.nn import Module

import tracker_core
from integrations._support import attach_run, warn_once
from tracker_core import SettingsError, TrackerWarning
from tracker_core._lifecycle import stands_in_for_default_action
from tracker_core._settings import in_environment
from tracker_core.api import StoredArtifact

__all__ = ["TrackerLogger"]

STEP_KEY = "trainer/global_step"
DEFAULT_PROJECT = "lightning_logs"  # WandbLogger's, and Lightning's own loggers' default name
_FINAL_STATES = ("finished", "failed", "killed", "stopped")
_live_loggers: weakref.WeakSet[TrackerLogger] = weakref.WeakSet()


class TrackerLogger(Logger):
    """Log a Lightning ``Trainer`` to a tracker run: ``Trainer(logger=TrackerLogger(project="p"))``.

    The run is chosen when the logger is built: ``run=`` (or ``experiment=``) if given, else the run
    already active in the process (a sweep agent's or the user's), else a new one from ``project``
    (else ``TRACKER_PROJECT``/``WANDB_PROJECT``, else ``lightning_logs``, like ``WandbLogger``),
    ``name``, ``save_dir`` (or ``dir``: the store root), ``id``/``version`` and any other
    ``tracker_core.init`` option (``tags``, ``config``, ``group``, ``resume``...). On a non-zero rank
    it is a run that writes nothing, and ``experiment`` is Lightning's ``DummyExperiment``.

    Args:
        log_model: ``True``: the best and last checkpoints as a ``model`` artifact at the end of a
            successful fit (aliases ``best`` and ``latest``, the monitored score in the metadata);
            ``"all"``: every checkpoint as it is saved; ``False``: none.
        checkpoint_name: the artifact's name; ``model-<run id>`` by default.
        prefix: put before every metric name with ``-`` (``prefix="tmp"``: ``tmp-loss``), as WandbLogger does.
        offline: ``True`` writes the local store only (``mode="offline"``). Unlike WandbLogger, it goes
            with ``log_model``: checkpoints are stored locally.
        save_code: passed to ``tracker_core.init`` (the main script saved with the run).
        log_graph: record the model summary (``files/model_summary.txt``, parameter counts in the summary).
        anonymous, add_file_policy: accepted for WandbLogger; no effect here (``anonymous`` warns once).

    Raises:
        SettingsError: a bad ``log_model``, ``prefix`` or ``add_file_policy``, ``run=`` given with options
            for a new run, conflicting ``id``/``version`` or ``save_dir``/``dir``, or any error of
            ``tracker_core.init`` (an unknown option, a bad value).
    """

    LOGGER_JOIN_CHAR = "-"

    def __init__(self, project: str | None = None, name: str | None = None, *,
                 save_dir: str | os.PathLike[str] | None = None, version: str | None = None, offline: bool = False,
                 dir: str | os.PathLike[str] | None = None,  # noqa: A002
                 id: str | None = None, anonymous: bool | None = None,  # noqa: A002 - WandbLogger's names
                 log_model: bool | Literal["all"] = False, experiment: tracker_core.Run | None = None, prefix: str = "",
                 checkpoint_name: str | None = None, add_file_policy: Literal["mutable", "immutable"] = "mutable",
                 save_code: bool | None = None, log_graph: bool = False, run: tracker_core.Run | None = None,
                 **init_options: Any) -> None:
        super().__init__()
        _check_options(log_model, prefix, add_file_policy, offline)
        if id is not None and version is not None and id != version:
            raise SettingsError("version", f"{version!r} differs from id={id!r}", "pass one of them")
        if save_dir is not None and dir is not None and os.fspath(save_dir) != os.fspath(dir):
            raise SettingsError("dir", f"{dir!r} differs from save_dir={save_dir!r}", "pass one of them")
        if anonymous is not None:
            _warn_once("anonymous", "TrackerLogger(anonymous=...) is accepted for W&B and has no effect here: "
                       "the local store needs no account")
        root = save_dir if save_dir is not None else dir
        given = run if run is not None else experiment
        options = {"project": project, "name": name, "dir": None if root is None else os.fspath(root),
                   "id": id or version, "save_code": save_code, **init_options}
        if given is not None:
            if not isinstance(given, tracker_core.Run):
                raise SettingsError("run", f"{given!r} is not a tracker_core.Run",
                                    "pass the run tracker_core.init() returned")
            if any(value is not None for value in options.values()):
                raise SettingsError("run", "given together with options for a new run",
                                    "pass either run=... or the options of a new run")
        else:
            if project is None and not in_environment("project"):
                options["project"] = DEFAULT_PROJECT
            if offline and options.get("mode") is None:
                options["mode"] = "offline"
        self._run, self._owned = attach_run(given, **options)
        self._project = self._run.project
        self._id = self._run.id
        self._root = os.path.abspath(os.path.expanduser(self._run.settings.dir))
        self._log_model = log_model
        self._checkpoint_name = checkpoint_name
        self._prefix = prefix
        self._log_graph = log_graph
        self._strict = self._run.settings.strict
        self._callbacks: dict[int, ModelCheckpoint] = {}  # log_model=True: logged at the end of fit
        self._logged: dict[str, int] = {}  # checkpoint path -> mtime (ns) when last looked at
        self._logged_digests: set[str] = set()  # sha256 of each checkpoint logged
        self._axes = {STEP_KEY}  # metrics given trainer/global_step as their x-axis
        self._last_step: int | None = None
        self._may_rewind = self._owned and self._run.step > 0  # a resumed run: rewind at the first step
        self._watches: list[tuple[weakref.ref[Module], dict[str, Any]]] = []
        self._handed_over_by: int | None = None  # pid of the process that detached the run for its children
        self._give_back = False  # this process continues a run handed over to it: detach it at the end
        self._exit_hook = False
        self._summarised = False  # the model summary was recorded (log_graph)
        self._warned: set[str] = set()
        _live_loggers.add(self)
        _let_lightning_stop_on_sigterm()

    # ----- Lightning's Logger contract ---------------------------------------------------------

    @property
    def name(self) -> str:
        """The project (Lightning puts checkpoints under ``save_dir/name/version``: the run's folder)."""
        return self._project

    @property
    def version(self) -> str:
        """The run id."""
        return self._id

    @property
    def save_dir(self) -> str:
        """The store root."""
        return self._root

    @property
    def root_dir(self) -> str:
        """The project's folder in the store."""
        return os.path.join(self._root, self._project)

    @property
    def log_dir(self) -> str:
        """The run's folder."""
        return os.path.join(self._root, self._project, self._id)

    @property
    @rank_zero_experiment
    def experiment(self) -> tracker_core.Run:
        """The tracker run; on a rank above 0, Lightning's ``DummyExperiment``, which accepts every call
        (Lightning's ``@rank_zero_experiment`` contract).

        After a hand-over (``ddp_spawn``), this opens the run again here: in a process Lightning
        started, to continue it; in the process that handed it over, to take it back.
        """
        return self._live_run()

    def _live_run(self) -> tracker_core.Run:
        """The run on every rank (one that writes nothing on the others), opened again after a hand-over."""
        if self._handed_over_by is not None or self._run is None:
            self._reopen_after_hand_over()
        return self._run

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log ``metrics`` at the trainer's global step (``trainer/global_step`` is their x-axis).

        Without ``step``, the last global step seen. The first step of a run resumed from a
        checkpoint rewinds it: history from that step on is superseded by what follows.
        """
        self._safely("log_metrics", lambda: self._log_metrics(metrics, step))

    def _log_metrics(self, metrics: Mapping[str, Any], step: int | None) -> None:
        run = self._live_run()
        row = dict(_add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR) if self._prefix else metrics)
        if step is None:
            step = self._last_step
        else:
            step = int(step)
            if self._may_rewind:
                self._may_rewind = False
                if 0 < step < run.step:
                    run = self._rewind(step - 1)
            self._last_step = step
        if step is not None:
            row[STEP_KEY] = step
        for key in [key for key in row if key not in self._axes]:
            self._axes.add(key)
            try:
                run.define_metric(key, step_metric=STEP_KEY)
            except SettingsError:
                pass  # a name that is a glob matching the axis itself: it stays on the run's step
        run.log(row, step=step)

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        """Merge ``params`` into the run's config (dicts, ``Namespace``, ``AttributeDict``; nested
        values are kept nested, values that are not plain data are recorded as readable text)."""
        self._safely("log_hyperparams",
                     lambda: self._live_run().config.update(_readable(params), allow_val_change=True))

    @rank_zero_only
    def log_graph(self, model: Module, input_array: Tensor | None = None) -> None:
        """With ``log_graph=True``: the model summary to ``files/model_summary.txt`` and parameter counts
        (``model/total_parameters``, ``model/trainable_parameters``) to the run's summary."""
        if self._log_graph:
            self._safely("log_graph", lambda: self._record_model_summary(model))

    def _record_model_summary(self, model: Module) -> None:
        run = self._live_run()
        if run.dir is None or self._summarised:
            return
        self._summarised = True
        summary = ModelSummary(model, max_depth=-1)  # type: ignore[arg-type]
        folder = os.path.join(run.dir, "files")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "model_summary.txt"), "w", encoding="utf-8") as file:
            file.write(str(summary) + "\n")
        run.summary.update({"model/total_parameters": summary.total_parameters,
                            "model/trainable_parameters": summary.trainable_parameters})

    def after_save_checkpoint(self, checkpoint_callback: ModelCheckpoint) -> None:
        """``log_model="all"``: log the checkpoints saved since the last call; ``True``: remember the
        callback for the end of fit."""
        if self._log_model == "all":
            self._safely("log_model", lambda: self._log_checkpoints(checkpoint_callback, end_of_fit=False))
        elif self._log_model:
            self._callbacks[id(checkpoint_callback)] = checkpoint_callback

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """Lightning's end of a stage (see the module's docstring for each ``status``)."""
        if status == "success":
            self._safely("finalize", self._end_stage)
        elif status == "failed":
            self._safely("finalize", self._end_failed)
        elif status == "finished":
            self._safely("finalize", self._end_requeued)

    def _end_stage(self) -> None:
        for callback in self._callbacks.values():
            self._log_checkpoints(callback, end_of_fit=True)
        self._callbacks.clear()
        if self._give_back:
            self._give_back = False
            self._live_run().detach()

    def _end_failed(self) -> None:
        error = sys.exc_info()[1]
        text = "".join(traceback.format_exception(error)) if error is not None else None
        run = self._live_run()
        if isinstance(error, SIGTERMException | KeyboardInterrupt):
            signum = signal.SIGTERM if isinstance(error, SIGTERMException) else signal.SIGINT
            run.finish_from_hook("killed", 128 + signum, text, signum.name)
        elif self._owned:
            run.finish_from_hook("failed", 1, text)

    def _end_requeued(self) -> None:
        run = self._live_run()
        run.mark_preempting()
        run.finish_from_hook("killed", 1)

    # ----- conveniences ------------------------------------------------------------------------

    def watch(self, model: Module, log: str | None = "gradients", log_freq: int = 100, log_graph: bool = True, *,
              include: Any = None, exclude: Any = None) -> None:
        """``Run.watch`` in WandbLogger's order: gradient and/or parameter statistics every ``log_freq``
        backward passes; ``log_graph=True`` (WandbLogger's default) records the model summary as
        ``log_graph=True`` on the logger does.

        Raises:
            SettingsError: a bad argument (see ``tracker_core.Run.watch``).
        """
        options = {"log": log, "log_freq": log_freq, "include": include, "exclude": exclude}
        self._live_run().watch(model, **options)
        self._watches.append((weakref.ref(model), options))
        if log_graph:
            self._safely("log_graph", lambda: self._record_model_summary(model))

    @rank_zero_only
    def log_table(self, key: str, columns: list[str] | None = None, data: Any = None, dataframe: Any = None,
                  step: int | None = None) -> None:
        """A ``tracker_core.Table`` under ``key`` (rows in ``data``, or a pandas ``dataframe``)."""
        self._safely("log_table", lambda: self._log_metrics(
            {key: tracker_core.Table(columns=columns, data=data, dataframe=dataframe)}, step))

    @rank_zero_only
    def log_text(self, key: str, columns: list[str] | None = None, data: Any = None, dataframe: Any = None,
                 step: int | None = None) -> None:
        """Text as a ``tracker_core.Table`` (as ``log_table``)."""
        self.log_table(key, columns, data, dataframe, step)

    @rank_zero_only
    def log_image(self, key: str, images: list[Any], step: int | None = None, **kwargs: list[Any]) -> None:
        """A list of ``tracker_core.Image`` (arrays, tensors, PIL images, figures or file paths) under ``key``;
        ``kwargs`` are lists with one value per image (``caption=[...]``, ``mode=[...]``).

        Raises:
            TypeError: ``images`` is not a list. ValueError: a ``kwargs`` list of another length.
        """
        self._log_media(key, images, "images", tracker_core.Image, step, kwargs)

    @rank_zero_only
    def log_audio(self, key: str, audios: list[Any], step: int | None = None, **kwargs: list[Any]) -> None:
        """A list of ``tracker_core.Audio`` (arrays with ``sample_rate=[...]``, or file paths) under ``key``.

        Raises:
            TypeError: ``audios`` is not a list. ValueError: a ``kwargs`` list of another length.
        """
        self._log_media(key, audios, "audios", tracker_core.Audio, step, kwargs)

    @rank_zero_only
    def log_video(self, key: str, videos: list[Any], step: int | None = None, **kwargs: list[Any]) -> None:
        """A list of ``tracker_core.Video`` (frame arrays, or file paths) under ``key``; ``kwargs`` such as
        ``fps=[...]``, ``caption=[...]``.

        Raises:
            TypeError: ``videos`` is not a list. ValueError: a ``kwargs`` list of another length.
        """
        self._log_media(key, videos, "videos", tracker_core.Video, step, kwargs)

    def _log_media(self, key: str, items: list[Any], what: str, kind: Callable[..., Any], step: int | None,
                   kwargs: Mapping[str, list[Any]]) -> None:
        """Check the arguments as WandbLogger does (these raise), then log one medium per item (a medium
        that cannot be made is warned about once, as any logging failure)."""
        if not isinstance(items, list):
            raise TypeError(f'Expected a list as "{what}", found {type(items)}')
        for option, values in kwargs.items():
            if len(values) != len(items):
                raise ValueError(f"Expected {len(items)} items but only found {len(values)} for {option}")
        per_item = [{option: values[i] for option, values in kwargs.items()} for i in range(len(items))]
        self._safely(f"log_{what}", lambda: self._log_metrics(
            {key: [kind(item, **options) for item, options in zip(items, per_item, strict=True)]}, step))

    @staticmethod
    @rank_zero_only
    def download_artifact(artifact: str, save_dir: str | os.PathLike[str] | None = None,
                          artifact_type: str | None = None, use_artifact: bool | None = True) -> str:
        """Download an artifact version (``name``, ``name:v3``, ``name:<alias>``) and return its folder, as
        WandbLogger's: through the active run (its use is recorded) when there is one and ``use_artifact``,
        else from the store (``TRACKER_DIR``).

        Raises:
            ArtifactError: no such artifact, or one of another ``artifact_type``.
        """
        run: tracker_core.Run | None = tracker_core.run
        found = _typed(tracker_core.Api(run.settings.dir if run is not None else None), artifact, artifact_type)
        if run is not None and use_artifact:
            found = run.use_artifact(artifact)
        return found.download(None if save_dir is None else os.fspath(save_dir))

    def use_artifact(self, artifact: str, artifact_type: str | None = None) -> StoredArtifact:
        """Record that the run uses an artifact version and return it (``.download()`` gives its files).

        Raises:
            ArtifactError: no such artifact, or one of another ``artifact_type``.
        """
        run = self._live_run()
        _typed(tracker_core.Api(run.settings.dir), artifact, artifact_type)  # before the use is recorded
        return run.use_artifact(artifact)

    # ----- checkpoints -------------------------------------------------------------------------

    def _log_checkpoints(self, callback: ModelCheckpoint, end_of_fit: bool) -> None:
        """Log checkpoints of ``callback`` not logged yet: at the end of fit the best and the newest,
        otherwise every new one; each content once (a file is read again only after it changed)."""
        best = callback.best_model_path
        found = {path for path in (callback.last_model_path, best, *callback.best_k_models)
                 if path and os.path.isfile(path)}
        ordered = sorted(found, key=lambda path: os.stat(path).st_mtime_ns)
        if end_of_fit:
            ordered = [path for path in ordered if path == best or path == ordered[-1]]
        for path in ordered:
            mtime = os.stat(path).st_mtime_ns
            if self._logged.get(path) == mtime:
                continue
            digest = _sha256(path)  # last.ckpt is often a copy of a top-k checkpoint: the same bytes, once
            if digest not in self._logged_digests:
                self._log_checkpoint(callback, path)
                self._logged_digests.add(digest)
            self._logged[path] = mtime

    def _log_checkpoint(self, callback: ModelCheckpoint, path: str) -> None:
        run = self._live_run()
        score = callback.best_k_models.get(path)
        if path == callback.best_model_path:
            score = callback.best_model_score
        elif score is None and path == callback.last_model_path:
            score = callback.current_score
        metadata = {"score": score.item() if isinstance(score, Tensor) else score, "monitor": callback.monitor,
                    "mode": callback.mode, "original_filename": os.path.basename(path)}
        artifact = tracker_core.Artifact(self._checkpoint_name or f"model-{run.id}", type="model", metadata=metadata)
        artifact.add_file(path, name="model.ckpt")
        # Lightning writes checkpoints by rename (an atomic save), never in place: the store can share the
        # file's inode, so a logged checkpoint is on disk once (a copy where a hard link is impossible)
        run.log_artifact(artifact, aliases=["best"] if path == callback.best_model_path else [], link="hardlink")

    # ----- hand-over to Lightning's processes (ddp_spawn, ddp_fork) and rewinds --------------------

    def __getstate__(self) -> dict[str, Any]:
        """Pickled by Lightning's ``ddp_spawn`` launcher: the run is handed over first; the copy carries its id."""
        if _launching_processes():
            self._hand_over()
        state = self.__dict__.copy()
        state.update(_run=None, _watches=[], _callbacks={}, _give_back=False, _exit_hook=False)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        _live_loggers.add(self)

    def _hand_over(self) -> None:
        """Detach the run so that rank 0 in the processes Lightning starts can continue it."""
        if self._handed_over_by is not None or self._run is None or self._run.disabled:
            return
        self._run.detach()
        self._handed_over_by = os.getpid()
        if not self._exit_hook:
            self._exit_hook = True
            atexit.register(self._take_back_at_exit)

    def _reopen_after_hand_over(self) -> None:
        handed_over_by, self._handed_over_by = self._handed_over_by, None
        here = os.getpid()
        if handed_over_by == here and self._ended_elsewhere():
            return  # the processes ended it (an exception there): it stays ended
        self._run, _ = attach_run(None, project=self._project, id=self._id, dir=self._root, resume="must")
        self._give_back = handed_over_by is not None and handed_over_by != here
        self._rewatch()
        _let_lightning_stop_on_sigterm()

    def _ended_elsewhere(self) -> bool:
        try:
            return tracker_core.Api(self._root).run(f"{self._project}/{self._id}").status in _FINAL_STATES
        except tracker_core.TrackerError:
            return False

    def _take_back_at_exit(self) -> None:
        """At exit of the process that handed the run over: take it back, so that the exit hooks end it
        in its true state (an uncaught exception: ``failed`` with its traceback)."""
        if self._handed_over_by != os.getpid():
            return
        try:
            run = self._live_run()
            error = getattr(sys, "last_value", None)  # set when the program ended with an uncaught exception
            if error is not None:
                run.finish_from_hook("failed", 1, "".join(traceback.format_exception(error)))
        except Exception as exc:  # noqa: BLE001 - an exit hook must not fail the exit
            print(f"tracker: could not take back run {self._id}: {exc!r}", file=sys.stderr)

    def _rewind(self, step: int) -> tracker_core.Run:
        """Reopen the run with history after ``step`` superseded (a fit resumed from a checkpoint)."""
        self._run.detach()
        self._run = tracker_core.init(project=self._project, id=self._id, dir=self._root, resume="must",
                                      resume_from_step=step)
        self._rewatch()
        return self._run

    def _rewatch(self) -> None:
        for model_ref, options in self._watches:
            model = model_ref()
            if model is not None:
                self._run.watch(model, **options)

    # ----- failures ----------------------------------------------------------------------------

    def _safely(self, what: str, call: Callable[[], None]) -> None:
        """Run ``call``; an error is warned about once per ``what`` and skipped (raised in strict mode)."""
        try:
            call()
        except Exception as exc:
            if self._strict:
                raise
            warn_once(self._warned, "TrackerLogger", what, exc)


def _check_options(log_model: object, prefix: object, add_file_policy: object, offline: object) -> None:
    if log_model not in (True, False, "all"):
        raise SettingsError("log_model", f"{log_model!r} is not True, False or 'all'",
                            "pass True (best and last checkpoints after fit), 'all' (each as saved) or False")
    if not isinstance(prefix, str):
        raise SettingsError("prefix", f"{prefix!r} is not a string", "pass e.g. prefix='pretrain'")
    if add_file_policy not in ("mutable", "immutable"):
        raise SettingsError("add_file_policy", f"{add_file_policy!r} is not 'mutable' or 'immutable'",
                            "leave it out: checkpoints enter the store at once, linked or copied")
    if not isinstance(offline, bool):
        raise SettingsError("offline", f"{offline!r} is not a bool", "pass offline=True or False")


_warned_options: set[str] = set()


def _warn_once(option: str, message: str) -> None:
    if option not in _warned_options:
        _warned_options.add(option)
        warnings.warn(message, TrackerWarning, stacklevel=3)


def _typed(api: tracker_core.Api, ref: str, artifact_type: str | None) -> StoredArtifact:
    """The artifact version ``ref``, checked to be of ``artifact_type`` (when given).

    Raises:
        ArtifactError: no such version, or one of another type.
    """
    from tracker_core.artifacts import ArtifactError

    artifact = api.artifact(ref)
    if artifact_type is not None and artifact.type != artifact_type:
        raise ArtifactError(f"{artifact.ref} is of type {artifact.type!r}, not {artifact_type!r}",
                            "pass the artifact's own type, or artifact_type=None")
    return artifact


def _readable(value: Any) -> Any:
    """Hyperparameters as plain data: mappings and ``Namespace`` as dicts, sequences as lists,
    scalars as they are, 0-d tensors and arrays as numbers, anything else as readable text."""
    if isinstance(value, Namespace):
        value = vars(value)
    if isinstance(value, Mapping):
        return {str(key): _readable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_readable(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if getattr(value, "shape", None) == () and hasattr(value, "item"):
        return value.item()
    if isinstance(value, type) or callable(value):
        return getattr(value, "__qualname__", None) or repr(value)
    return str(value)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _launching_processes() -> bool:
    """True while Lightning's multiprocessing launcher (``ddp_spawn``, ``ddp_fork``) starts its processes."""
    launch = _MultiProcessingLauncher.launch.__code__
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is launch:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


class _SigtermHandler:
    """SIGTERM while a Trainer runs: only noted on the runs, so that Lightning stops at its next step
    (``SIGTERMException``: its ``on_exception`` callbacks run, e.g. ``OnExceptionCheckpoint``) and
    ``finalize("failed")`` ends the run ``killed``. Otherwise: the tracker's handler (the run ends
    ``killed`` and the process dies by the signal).

    Without it, a Trainer that starts composes the tracker's handler after its own, and the tracker's
    default action (standing in for SIG_DFL) would end the process before Lightning could stop.
    """

    def __init__(self, tracker_handler: Callable[[int, FrameType | None], Any]) -> None:
        self.tracker_handler = tracker_handler

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if isinstance(signal.getsignal(signal.SIGTERM), _HandlersCompose):  # a Trainer's, calling this one
            for logger in list(_live_loggers):
                if logger._run is not None:
                    logger._run.note_signal(signum)
            return
        self.tracker_handler(signum, frame)


def _let_lightning_stop_on_sigterm() -> None:
    """Wrap the tracker's SIGTERM handler where its chain ends in the default action (main thread).

    A program's own SIGTERM handler, installed before the run, already keeps the process alive for
    Lightning (the tracker's handler calls it instead), so nothing is wrapped then.
    """
    if threading.current_thread() is threading.main_thread() and stands_in_for_default_action(signal.SIGTERM):
        signal.signal(signal.SIGTERM, _SigtermHandler(signal.getsignal(signal.SIGTERM)))  # type: ignore[arg-type]


def _hand_over_before_fork() -> None:
    if _live_loggers and _launching_processes():
        for logger in list(_live_loggers):
            logger._hand_over()


os.register_at_fork(before=_hand_over_before_fork)

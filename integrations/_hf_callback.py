"""``TrackerCallback``: a transformers ``TrainerCallback`` that records a ``Trainer`` into a tracker run.

Imports transformers; reach it through ``integrations.huggingface``, which checks that it is installed.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import secrets
import tempfile
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

import tracker_core
from integrations._support import attach_run, warn_once
from tracker_core._errors import (
    LogValueError,
    PersistError,
    RunExistsError,
    RunLockedError,
    RunNotFoundError,
    SettingsError,
    StepOrderError,
)
from tracker_core._settings import AdapterSettings, resolve, resolve_settings

__all__ = ["STEP_AXIS", "SUMMARY_KEYS", "TrackerCallback", "rewrite_keys"]

STEP_AXIS = "train/global_step"
"""The x-axis every metric the callback logs is defined against."""

SUMMARY_KEYS = frozenset({"train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss",
                          "total_flos"})
"""End-of-training aggregates: they go to the run's summary, not its history."""

_DEFAULT_PROJECT_ARGUMENT = "huggingface"  # TrainingArguments.project's default: not a choice the user made

_Event = TypeVar("_Event", bound=Callable[..., None])


def rewrite_keys(logs: Mapping[str, Any]) -> dict[str, Any]:
    """``eval_loss`` -> ``eval/loss``, ``test_acc`` -> ``test/acc``, anything else -> ``train/<key>``."""
    row: dict[str, Any] = {}
    for key, value in logs.items():
        if key.startswith("eval_"):
            row["eval/" + key[5:]] = value
        elif key.startswith("test_"):
            row["test/" + key[5:]] = value
        else:
            row["train/" + key] = value
    return row


_RAISED = (SettingsError, RunLockedError, RunExistsError, RunNotFoundError,  # set-up mistakes (a bad TRACKER_*)
           StepOrderError, LogValueError, PersistError)  # strict mode, which the user asked for


def _guarded(event: _Event) -> _Event:
    """Run a callback event; an error is warned about once per event and training goes on, except the
    errors of set-up mistakes and of strict mode."""

    @functools.wraps(event)
    def guarded(self: TrackerCallback, *args: Any, **kwargs: Any) -> None:
        try:
            event(self, *args, **kwargs)
        except _RAISED:
            raise
        except Exception as exc:  # noqa: BLE001 - logging must never kill training (DESIGN principle 1)
            warn_once(self._warned, "the Hugging Face callback", event.__name__, exc)

    return cast(_Event, guarded)


class TrackerCallback(TrainerCallback):
    """Record a ``Trainer`` (world process zero only) into the active run, else into a new one.

    Each option falls back to its TRACKER_* variable, then its default:

    Args:
        run: log into this run instead of the active one.
        project: the project of a new run; else ``TrainingArguments.project`` when set, else ``TRACKER_PROJECT``.
        name: the name of a new run; else ``TrainingArguments.run_name``.
        log_model: ``"checkpoint"`` (each saved checkpoint as a ``model`` artifact), ``"end"`` (the final
            model), or ``False`` / ``"false"`` (``TRACKER_LOG_MODEL``).
        watch: ``"gradients"``, ``"parameters"``, ``"all"``, or ``False`` / ``"false"`` (``TRACKER_WATCH``).
        log_freq: backward passes between two ``watch`` measurements; default ``max(100, logging_steps)``.
        **init_options: any other option of ``tracker_core.init()`` for a new run (``tags``, ``group``, ...).

    Raises:
        SettingsError: an unknown or invalid option, at once.
    """

    def __init__(self, *, run: tracker_core.Run | None = None, project: str | None = None, name: str | None = None,
                 log_model: str | bool | None = None, watch: str | bool | None = None, log_freq: int | None = None,
                 **init_options: Any) -> None:
        if run is not None and not isinstance(run, tracker_core.Run):
            raise SettingsError("run", f"{run!r} is not a tracker_core.Run",
                                "pass the run that tracker_core.init() returned")
        if log_freq is not None and (type(log_freq) is not int or log_freq < 1):
            raise SettingsError("log_freq", f"{log_freq!r} is not a positive int", "pass e.g. log_freq=100")
        resolve_settings({"project": project, "name": name, **init_options})  # raises on a bad option
        options = resolve(AdapterSettings, {"log_model": _word(log_model), "watch": _word(watch)})
        self._given_run = run
        self._project = project
        self._name = name
        self._init_options = init_options
        self._log_model = options.log_model or "false"
        self._watch = options.watch or "false"
        self._log_freq = log_freq
        self._run: tracker_core.Run | None = None  # the run being logged to, once set up
        self._axes: set[str] = set()  # keys already defined against STEP_AXIS in that run
        self._trial: tracker_core.Run | None = None  # the run of the hyperparameter-search trial under way
        self._trials = 0
        self._group: str | None = None  # the group of this search's trial runs
        self._in_train = False  # between on_train_begin and on_train_end
        self._train_completed = False  # train() logged its end-of-training metrics
        self._warned: set[str] = set()

    # ----- the run ------------------------------------------------------------------------------

    def _current_run(self, args: TrainingArguments, state: TrainerState, model: Any) -> tracker_core.Run:
        """The trial's run; else ``run=``, the active run or a new one (set up on first use)."""
        if self._trial is not None:
            return self._trial
        run, _ = attach_run(self._given_run, project=self._project_for(args), name=self._name or _run_name(args),
                            **self._init_options)
        if run is not self._run:
            self._set_up(run, args, state, model)
        return run

    def _project_for(self, args: TrainingArguments) -> str | None:
        if self._project is not None:
            return self._project
        chosen = getattr(args, "project", None)  # TrainingArguments.project exists since transformers 4.55
        return chosen if chosen and chosen != _DEFAULT_PROJECT_ARGUMENT else None

    def _set_up(self, run: tracker_core.Run, args: TrainingArguments, state: TrainerState, model: Any) -> None:
        """Config (training arguments over the model's and PEFT config), parameter counts, watching."""
        self._run = run
        self._axes = set()
        config: dict[str, Any] = {}
        model_config = getattr(model, "config", None)
        if model_config is not None:
            config.update(_as_dict(model_config))
        config.update(args.to_dict())  # type: ignore[no-untyped-call]
        peft_config = getattr(model, "peft_config", None)
        if peft_config:
            config["peft_config"] = {adapter: _as_dict(value) for adapter, value in peft_config.items()}
        if model is not None and hasattr(model, "parameters"):
            parameters = list(model.parameters())
            config["model/num_parameters"] = sum(p.numel() for p in parameters)
            config["model/num_trainable_parameters"] = sum(p.numel() for p in parameters if p.requires_grad)
        run.config.update(_plain(config), allow_val_change=True)
        if self._watch != "false" and model is not None:
            run.watch(model, log=self._watch, log_freq=self._log_freq or max(100, int(state.logging_steps)))

    # ----- hyperparameter search ---------------------------------------------------------------

    def _start_trial(self, args: TrainingArguments, state: TrainerState, model: Any) -> None:
        """A run for this trial, in the search's group. A run active at that point is finished by ``init``."""
        first = self._group is None
        if self._group is None:
            self._group = (self._init_options.get("group") or os.environ.get("TRACKER_RUN_GROUP")
                           or f"hp-search-{secrets.token_hex(4)}")
        name = state.trial_name or f"{self._name or _run_name(args) or 'trial'}-{self._trials}"
        self._trials += 1
        options = {**self._init_options, "project": self._project_for(args), "name": name, "group": self._group}
        run = tracker_core.init(**{key: value for key, value in options.items() if value is not None},
                                config={"trial_params": dict(state.trial_params or {})})
        self._trial = run
        if first:  # registered after init(), so it runs before the tracker's exit hook: the trial's state first
            atexit.register(self._end_trial)
        self._set_up(run, args, state, model)

    def _end_trial(self) -> None:
        """Finish the trial's run in the trial's state: train() completed (``finished``), was pruned
        (``stopped``, as a sweep's pruned trial, with ``summary["hp_search/pruned"]``), or raised (``failed``)."""
        run, self._trial = self._trial, None
        if run is None:
            return
        if self._in_train:
            run.finish(exit_code=1)
            return
        if not self._train_completed:
            run.summary["hp_search/pruned"] = True
            run._end_stopped()
            return
        run.finish()

    # ----- events -------------------------------------------------------------------------------

    @_guarded
    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       model: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        if self._trial is not None:
            self._end_trial()
        if state.is_hyper_param_search:
            self._start_trial(args, state, model)
        else:
            self._current_run(args, state, model)
        self._in_train, self._train_completed = True, False

    @_guarded
    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: Mapping[str, Any] | None = None, model: Any = None, **kwargs: Any) -> None:
        if state.is_world_process_zero and logs:
            self._record(args, state, model, logs)

    @_guarded
    def on_predict(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                   metrics: Mapping[str, Any] | None = None, model: Any = None, **kwargs: Any) -> None:
        if state.is_world_process_zero and metrics:
            self._record(args, state, model, metrics)

    def _record(self, args: TrainingArguments, state: TrainerState, model: Any, logs: Mapping[str, Any]) -> None:
        """End-of-training aggregates into the summary; the rest as one row with its keys rewritten."""
        run = self._current_run(args, state, model)
        aggregates = {key: value for key, value in logs.items() if key in SUMMARY_KEYS}
        if aggregates:
            run.summary.update(aggregates)
            self._train_completed = True
        row = rewrite_keys({key: value for key, value in logs.items() if key not in SUMMARY_KEYS})
        if not row:
            return
        for key in row.keys() - self._axes:
            if not any(char in key for char in "*?["):  # such a name would be read as a glob
                run.define_metric(key, step_metric=STEP_AXIS)
            self._axes.add(key)
        row[STEP_AXIS] = state.global_step
        run.log(row)

    @_guarded
    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if self._log_model != "checkpoint" or not state.is_world_process_zero:
            return
        folder = _checkpoint_folder(args.output_dir or ".", state.global_step)
        if folder is None:
            raise FileNotFoundError(f"checkpoint-{state.global_step} under {args.output_dir}")
        run = self._current_run(args, state, kwargs.get("model"))
        artifact = tracker_core.Artifact(f"model-{run.id}", type="model",
                                         metadata={"global_step": state.global_step, "epoch": state.epoch,
                                                   "checkpoint": os.path.basename(folder)})
        artifact.add_dir(folder)
        run.log_artifact(artifact, aliases=[f"step-{state.global_step}"])

    @_guarded
    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                     model: Any = None, processing_class: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        self._in_train = False
        if self._log_model == "end" and model is not None:
            run = self._current_run(args, state, model)
            with tempfile.TemporaryDirectory(prefix="tracker-model-") as folder:
                _save_model(model, processing_class, folder)
                artifact = tracker_core.Artifact(f"model-{run.id}", type="model",
                                                 metadata={"global_step": state.global_step, "epoch": state.epoch,
                                                           "final": True})
                artifact.add_dir(folder)
                run.log_artifact(artifact, aliases=["final"])


def _word(value: str | bool | None) -> str | None:
    """``False`` means ``"false"`` for log_model and watch."""
    return "false" if value is False else value  # type: ignore[return-value]


def _as_dict(config: Any) -> Any:
    """A model or PEFT config as a plain dict (``to_dict()``); anything else as it is."""
    to_dict = getattr(config, "to_dict", None)
    return to_dict() if callable(to_dict) else config


def _plain(config: dict[str, Any]) -> Any:
    """JSON-shaped config: keys as strings (``id2label`` has int keys), other objects as their ``str``."""
    return json.loads(json.dumps(config, default=str))


def _run_name(args: TrainingArguments) -> str | None:
    """``run_name``, unless it is only the output folder (older transformers' default)."""
    name = args.run_name
    return name if name and name != args.output_dir else None


def _checkpoint_folder(output_dir: str, step: int) -> str | None:
    """``output_dir/checkpoint-N``, or for a search trial the newest ``output_dir/<trial>/checkpoint-N``."""
    direct = os.path.join(output_dir, f"checkpoint-{step}")
    if os.path.isdir(direct):
        return direct
    candidates = [path for path in (os.path.join(output_dir, entry, f"checkpoint-{step}")
                                    for entry in os.listdir(output_dir)) if os.path.isdir(path)]
    return max(candidates, key=os.path.getmtime, default=None)


def _save_model(model: Any, processing_class: Any, folder: str) -> None:
    """The model's weights and config (``save_pretrained``, else a torch state dict), and its tokenizer or processor."""
    if hasattr(model, "save_pretrained"):
        model.save_pretrained(folder)
    else:
        import torch

        torch.save(model.state_dict(), os.path.join(folder, "model.pt"))
    if processing_class is not None and hasattr(processing_class, "save_pretrained"):
        processing_class.save_pretrained(folder)

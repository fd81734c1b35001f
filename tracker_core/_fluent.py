"""Module-level convenience: find the active run, then call it (``tracker_core.log`` -> ``Run.log``)."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from tracker_core._distributed import detect_rank, job_group
from tracker_core._errors import RunStateError
from tracker_core._run import Run
from tracker_core.alerts._level import AlertLevel

__all__ = ["active_run", "alert", "define_metric", "finish", "init", "log", "unwatch", "watch"]

_active: Run | None = None
_init_lock = threading.Lock()


def active_run() -> Run | None:
    """The run that module-level calls act on, or None."""
    return _active


def _forget(run: Run) -> None:
    global _active
    if _active is run:
        _active = None


def init(
    project: str | None = None,
    *,
    name: str | None = None,
    config: Any = None,
    tags: Sequence[str] | None = None,
    notes: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    entity: str | None = None,
    dir: str | None = None,  # noqa: A002 - the W&B name for it
    id: str | None = None,  # noqa: A002 - the W&B name for it
    resume: bool | str | None = None,
    resume_from_step: int | None = None,
    reinit: bool | str | None = None,
    mode: str | None = None,
    strict: bool | None = None,
    step_policy: str | None = None,
    distributed: str | None = None,
    console: str | None = None,
    settings: Any = None,
    save_code: bool | None = None,
    resume_from: str | None = None,
    fork_from: str | None = None,
    allow_val_change: bool | None = None,
    config_include_keys: Sequence[str] | None = None,
    config_exclude_keys: Sequence[str] | None = None,
    sync_tensorboard: bool | None = None,
    tensorboard: bool | None = None,
    monitor_gym: bool | None = None,
    anonymous: str | None = None,
    force: bool | None = None,
    **options: Any,
) -> Run:
    """Start (or resume) a run and make it the active one.

    Every option falls back to its ``TRACKER_*`` environment variable, then to its
    default (see the README's settings table). On a non-zero rank, or with
    ``mode="disabled"``, the run accepts every call and writes nothing. A run already
    active is finished first (``reinit="return_previous"`` returns it instead;
    ``reinit="create_new"`` leaves it active and returns a new run that module-level calls
    do not use). W&B's other options (``settings``, ``save_code``, ``resume_from``, ``fork_from``,
    ...) take their W&B meaning where this project has it, else warn once that they have no
    effect (see the README, "Switching from W&B").

    Raises:
        SettingsError: an unknown option or a bad value, with a hint.
        RunExistsError, RunNotFoundError, RunLockedError: the id and ``resume`` clash with the store
            (RunNotFoundError also for a ``fork_from`` run that is not there).
    """
    global _active
    rank, rank_source = detect_rank()  # before anything else
    from tracker_core._settings import resolve_settings  # pydantic loads on first init
    from tracker_core._wandb_init import translate

    arguments = {"project": project, "name": name, "tags": tags, "notes": notes, "group": group,
                 "job_type": job_type, "entity": entity, "dir": dir, "id": id, "resume": resume,
                 "resume_from_step": resume_from_step, "reinit": reinit, "mode": mode, "strict": strict,
                 "step_policy": step_policy, "distributed": distributed, "console": console, "settings": settings,
                 "save_code": save_code, "resume_from": resume_from, "fork_from": fork_from,
                 "allow_val_change": allow_val_change, "config_include_keys": config_include_keys,
                 "config_exclude_keys": config_exclude_keys, "sync_tensorboard": sync_tensorboard,
                 "tensorboard": tensorboard, "monitor_gym": monitor_gym, "anonymous": anonymous, "force": force,
                 **options}
    from tracker_core.sweeps._trial import attach, current_trial, prepare_init

    trial = current_trial()  # a sweep agent's trial: its parameters, run id and project
    if trial is not None:
        config = prepare_init(trial, arguments, config)
    arguments, config, extras = translate(arguments, config)
    resolved = resolve_settings(arguments)
    resolved = extras.prepare(resolved)
    from tracker_core.alerts._config import refresh

    refresh(os.path.join(os.path.abspath(os.path.expanduser(resolved.dir)), resolved.project))  # a bad alert
    # variable or project file fails here, with a hint
    with _init_lock:
        previous = _active
        if previous is not None and not extras.create_new:
            if resolved.reinit == "return_previous":
                return previous
            previous.finish()
        run = _open(resolved, config, rank, rank_source)
        if not extras.create_new:
            run._finish_callbacks.append(_forget)
            _active = run
    if trial is not None:
        attach(trial, run)
    try:
        extras.apply(run)
    except BaseException:
        run.finish(exit_code=1)
        raise
    return run


def _open(settings: Any, config: Any, rank: int, rank_source: str) -> Run:
    if settings.mode == "disabled":
        return _inactive(settings, config, "disabled")
    if rank != 0 and settings.distributed == "rank0":
        return _inactive(settings, config, "rank")
    if settings.distributed == "all":
        settings = _per_rank(settings, rank)
    from tracker_core._open import open_run

    return open_run(settings, config, rank, rank_source)


def _inactive(settings: Any, config: Any, reason: str) -> Run:
    from tracker_core._open import open_inactive_run

    return open_inactive_run(settings, config, reason)


def _per_rank(settings: Any, rank: int) -> Any:
    """One run per rank: same group for the whole launch, the rank in the name and tags."""
    group = settings.group or job_group() or "per-rank"
    name = f"{settings.name}-rank{rank}" if settings.name else f"rank{rank}"
    return settings.model_copy(update={"group": group, "name": name, "tags": (*settings.tags, f"rank{rank}")})


def _require_active(what: str) -> Run:
    run = _active
    if run is None:
        raise RunStateError(f"tracker_core.{what}() needs an active run", "call tracker_core.init() first")
    return run


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """``Run.log`` on the active run.

    Raises:
        RunStateError: no run is active.
    """
    _require_active("log").log(data, step=step, commit=commit)


def define_metric(name: str, step_metric: str | None = None, summary: str | None = None,
                  goal: str | None = None, hidden: bool = False, step_sync: bool = True,
                  alert_after: int | None = None) -> None:
    """``Run.define_metric`` on the active run.

    Raises:
        RunStateError: no run is active.
    """
    _require_active("define_metric").define_metric(name, step_metric, summary, goal, hidden, step_sync, alert_after)


def alert(title: str, text: str = "", level: AlertLevel | str = AlertLevel.INFO,
          wait_duration: float | timedelta | None = None) -> None:
    """``Run.alert`` on the active run (as ``wandb.alert``).

    Raises:
        RunStateError: no run is active.
        SettingsError: a bad argument (see ``Run.alert``).
    """
    _require_active("alert").alert(title, text, level=level, wait_duration=wait_duration)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the active run, if any."""
    run = _active
    if run is not None:
        run.finish(exit_code=exit_code, quiet=quiet)


def watch(models: Any, criterion: Any = None, log: str | None = "gradients", log_freq: int = 1000,
          idx: int | None = None, log_graph: bool = False, *, include: Any = None, exclude: Any = None) -> None:
    """``Run.watch`` on the active run, with ``wandb.watch``'s arguments in its order.

    Raises:
        RunStateError: no run is active.
        SettingsError: a bad argument (see ``Run.watch``).
    """
    _require_active("watch").watch(models, criterion, log, log_freq, idx, log_graph, include=include,
                                   exclude=exclude)


def unwatch(model: Any = None) -> None:
    """``Run.unwatch`` on the active run; nothing when no run is active."""
    run = _active
    if run is not None:
        run.unwatch(model)

"""Creating or resuming a writing run: folder, writer lock, torn-tail repair, replay, first records."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from tracker_core._config import to_config_dict
from tracker_core._encoding import Problem, encode_tree
from tracker_core._errors import RunExistsError, RunLockedError, RunNotFoundError, SettingsError
from tracker_core._process import current_identity
from tracker_core._run import Run
from tracker_core._settings import Settings
from tracker_core.store._index import replay
from tracker_core.store._lock import WriterLock
from tracker_core.store._log import LogWriter, repair_torn_tail
from tracker_core.store._replay import RunState
from tracker_core.store._run_dir import FORMAT_VERSION, RunDir, new_run_id

__all__ = ["open_inactive_run", "open_run"]


def open_inactive_run(settings: Settings, config: object, reason: str) -> Run:
    """A run that accepts every call and writes nothing (disabled mode, non-zero rank)."""
    problems: list[Problem] = []
    values = to_config_dict(config, problems)
    return Run(settings, values, run_id=settings.id or new_run_id(), inactive=reason,
               meta={"name": settings.name, "tags": list(settings.tags), "group": settings.group})


def open_run(settings: Settings, config: object, rank: int, rank_source: str) -> Run:
    """Create or resume the run described by ``settings`` and start its background work.

    Raises:
        SettingsError: config is not config-like; resume_from_step without a run to resume.
        RunExistsError / RunNotFoundError: the id and ``resume`` disagree with the store.
        RunLockedError: another live process writes the run.
        OSError: the store cannot be written at all.
    """
    problems: list[Problem] = []
    config_values = to_config_dict(config, problems)
    root = os.path.abspath(os.path.expanduser(settings.dir))
    run_dir = _choose_dir(settings, root)
    _check_resume(settings, run_dir)  # early, so a refused id leaves no folder behind
    run_dir.create()
    identity = current_identity()
    lock = WriterLock(run_dir.lock)
    owner = f"pid {identity['pid']} on {identity['host']}"
    if not lock.try_acquire(owner):
        raise RunLockedError(run_dir.run_id, lock.owner())
    try:
        resuming = _check_resume(settings, run_dir)  # again under the lock: another process may have made it
        run = _start(settings, run_dir, lock, identity, config_values, resuming, rank, rank_source)
    except BaseException:
        lock.release()
        raise
    if problems:
        run._report_problems(problems)
    return run


def _choose_dir(settings: Settings, root: str) -> RunDir:
    if settings.id is None:
        if settings.resume == "must":
            raise SettingsError("resume", "'must' needs the id of the run to resume", "pass id=... too")
        while True:  # a collision of 64 random bits is all but impossible; never reuse a folder
            run_dir = RunDir(root, settings.project, new_run_id())
            if not os.path.exists(run_dir.path):
                return run_dir
    return RunDir(root, settings.project, settings.id)


def _check_resume(settings: Settings, run_dir: RunDir) -> bool:
    """Whether the run is resumed; raises when the id and ``resume`` disagree with the store."""
    exists = run_dir.exists()
    if exists and settings.resume in (None, "never"):
        raise RunExistsError(run_dir.run_id, run_dir.path)
    if not exists and settings.resume == "must":
        raise RunNotFoundError(f"no run {settings.project}/{run_dir.run_id} in {run_dir.root}",
                               "check the project and id, or pass resume='allow' to create it")
    if settings.resume_from_step is not None and not exists:
        raise SettingsError("resume_from_step", f"run {run_dir.run_id!r} has no history to rewind",
                            "pass the id of an existing run with resume='allow' or 'must'")
    return exists


def _start(settings: Settings, run_dir: RunDir, lock: WriterLock, identity: dict[str, Any],
           config_values: dict[str, Any], resuming: bool, rank: int, rank_source: str) -> Run:
    state = RunState(keep_rows=False)
    repaired = 0
    if resuming:
        repaired = repair_torn_tail(run_dir.events)
        state, _ = replay(run_dir, keep_rows=settings.resume_from_step is not None)
    writer = LogWriter(run_dir.events, state.last_seq, fsync_every_record=settings.fsync_interval == 0)
    now = time.time()
    meta = _metadata(settings, run_dir, identity, state.meta if resuming else {}, now, rank, rank_source)
    config = {**state.config, **config_values} if resuming else config_values
    run = Run(settings, config, run_id=run_dir.run_id, run_dir=run_dir, writer=writer, lock=lock, meta=meta,
              state=state)
    run_record = {k: v for k, v in meta.items() if k != "status"}
    if repaired:
        run_record["repaired_tail_bytes"] = repaired
    run._append({"type": "run", **run_record, "resumed": resuming})
    changed = {k: v for k, v in config_values.items() if not resuming or state.config.get(k, object()) != v}
    if changed:
        run._append({"type": "config", "data": encode_tree(changed)})
    if settings.resume_from_step is not None:
        run._rewind(settings.resume_from_step)
    run._append({"type": "status", "status": "running"})
    run._write_meta()
    if not settings.silent:
        verb = "resumed" if resuming else "started"
        print(f"tracker: run {run.name} ({run.id}) {verb} -> {run_dir.path}", file=sys.stderr)
    run._start_background()
    return run


def _metadata(settings: Settings, run_dir: RunDir, identity: dict[str, Any], previous: Mapping[str, Any],
              now: float, rank: int, rank_source: str) -> dict[str, Any]:
    """run.json's content: explicit settings win, a resumed run keeps what was not given again."""
    def pick(name: str) -> Any:
        value = getattr(settings, name)
        return value if value not in (None, ()) else previous.get(name)

    return {
        "format_version": FORMAT_VERSION,
        "id": run_dir.run_id,
        "project": settings.project,
        "name": pick("name") or run_dir.run_id,
        "entity": pick("entity"),
        "group": pick("group"),
        "job_type": pick("job_type"),
        "tags": list(pick("tags") or ()),
        "notes": pick("notes"),
        "started": previous.get("started", now),
        "resumed_at": now if previous else None,
        "rank": rank,
        "rank_source": rank_source,
        "heartbeat_interval": settings.heartbeat_interval,
        **identity,
        "status": "running",
        "exit_code": None,
    }

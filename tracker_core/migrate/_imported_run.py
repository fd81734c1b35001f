"""Writing a run read from another tracker into the local store, with the source's own times and steps.

The importer builds the whole run (``ImportedRun``), and ``write_imported_run`` writes its log next to
the run's ``events.jsonl`` and renames it over it under the run's writer lock: a run is either as it
was or wholly the new import, so an interrupted import leaves no half-written run, and importing the
same source again gives the same bytes (the file is then left untouched). The records are the core's
own (``run``, ``config``, ``provenance``, ``log``, ``artifact``, ``status``), written by its
``LogWriter`` with the source's timestamps instead of the clock's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from tracker_core._encoding import encode_tree, tag_row
from tracker_core._errors import RunLockedError
from tracker_core._process import current_identity
from tracker_core.store._lock import WriterLock
from tracker_core.store._log import LogWriter
from tracker_core.store._run_dir import FORMAT_VERSION, RunDir

__all__ = ["ImportedRun", "imported_source", "write_imported_run"]

FINAL_STATES = ("finished", "failed", "killed", "stopped", "crashed")


@dataclass
class ImportedRun:
    """One run as the importer read it. ``rows`` are (step, unix time, flat row) in the order to write;
    ``artifacts`` are artifact records (direction, name, version, digest); ``source`` says where the run
    came from (kept in run.json as ``imported``; its ``fingerprint`` lets a later import skip it);
    ``metrics`` are ``define_metric`` definitions (written before the rows), ``system`` (unix time, sample)
    system-metric samples and ``summary`` explicit summary values (written after them)."""

    project: str
    run_id: str
    name: str
    started: float
    source: dict[str, Any]
    status: str = "finished"
    ended: float | None = None
    exit_code: int | None = None
    group: str | None = None
    job_type: str | None = None
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    extra_meta: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None
    rows: list[tuple[int, float, dict[str, Any]]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    system: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def imported_source(root: str, project: str, run_id: str) -> dict[str, Any] | None:
    """The ``imported`` field of a run already in the store (None when there is no such imported run)."""
    meta = RunDir(root, project, run_id).read_meta()
    source = meta.get("imported") if meta else None
    return source if isinstance(source, dict) else None


def _meta(run: ImportedRun) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "id": run.run_id, "project": run.project, "name": run.name,
            "entity": None, "group": run.group, "job_type": run.job_type, "tags": list(run.tags), "notes": run.notes,
            "started": run.started, "resumed_at": None, **run.extra_meta, "imported": run.source}


def _records(run: ImportedRun) -> list[dict[str, Any]]:
    """Every record of the run, without ``seq``, in log order."""
    records: list[dict[str, Any]] = [{"t": run.started, "type": "run", **_meta(run), "resumed": False}]
    if run.config:
        records.append({"t": run.started, "type": "config", "data": encode_tree(run.config)})
    if run.provenance:
        records.append({"t": run.started, "type": "provenance", "data": encode_tree(run.provenance)})
    records.append({"t": run.started, "type": "status", "status": "running"})
    records.extend({"t": run.started, "type": "define_metric", "metric": metric} for metric in run.metrics)
    records.extend({"t": t, "type": "log", "step": step, "data": tag_row(row)} for step, t, row in run.rows)
    records.extend({"t": t, "type": "system", "data": tag_row(sample)} for t, sample in run.system)
    last = max([run.started, *(t for _, t, _ in run.rows)])
    if run.summary:
        records.append({"t": last, "type": "summary", "set": encode_tree(run.summary)})
    for artifact in run.artifacts:
        records.append({"t": last, "type": "artifact", **artifact})
    if run.status in FINAL_STATES:
        records.append({"t": run.ended if run.ended is not None else last, "type": "status", "status": run.status,
                        "exit_code": run.exit_code})
    return records


def write_imported_run(root: str, run: ImportedRun) -> bool:
    """Write (or replace) ``run`` in the store at ``root``; False when the stored run was already identical.

    Raises:
        RunLockedError: a live process writes that run.
        OSError: the store cannot be written (what was there stays as it was).
    """
    run_dir = RunDir(root, run.project, run.run_id)
    run_dir.create()
    lock = WriterLock(run_dir.lock)
    identity = current_identity()
    if not lock.try_acquire(f"pid {identity['pid']} on {identity['host']} (importing)"):
        raise RunLockedError(run.run_id, lock.owner())
    staging = f"{run_dir.events}.importing"
    try:
        if os.path.exists(staging):
            os.unlink(staging)  # left by an interrupted import
        writer = LogWriter(staging, 0)
        try:
            for record in _records(run):
                if not writer.append({"seq": writer.seq + 1, **record}):
                    raise writer.last_error or OSError(f"could not write {staging}")
        finally:
            writer.close()
        if _same_content(staging, run_dir.events):
            os.unlink(staging)
            return False
        os.replace(staging, run_dir.events)
        final = {"status": run.status, "exit_code": run.exit_code, "ended": run.ended}
        run_dir.write_meta({**_meta(run), **final})
        return True
    except BaseException:
        if os.path.exists(staging):
            os.unlink(staging)
        raise
    finally:
        lock.release()


def _same_content(a: str, b: str) -> bool:
    try:
        if os.path.getsize(a) != os.path.getsize(b):
            return False
        with open(a, "rb") as left, open(b, "rb") as right:
            return left.read() == right.read()
    except OSError:
        return False

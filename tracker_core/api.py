"""Reading runs back from the local store. The log is the source of truth; states are inferred.

A run whose log has no final status is ``running`` only while its writer lives:
on the same host, its pid must exist with the same start time (pids are reused);
elsewhere, its last record or heartbeat must be recent. Otherwise it is ``crashed``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from tracker_core._errors import RunNotFoundError
from tracker_core._process import writer_state
from tracker_core.store._log import ReadStats, read_records
from tracker_core.store._replay import RunState
from tracker_core.store._run_dir import RunDir

__all__ = ["Api", "StoredRun"]


class StoredRun:
    """A run as recorded in the store, read once when constructed."""

    def __init__(self, run_dir: RunDir) -> None:
        self._dir = run_dir
        self.read_stats = ReadStats()
        self._state = RunState.from_records(read_records(run_dir.events, self.read_stats))
        meta = self._state.meta
        self.id: str = run_dir.run_id
        self.project: str = run_dir.project
        self.name: str = meta.get("name") or self.id
        self.tags: list[str] = list(meta.get("tags") or [])
        self.group: str | None = meta.get("group")
        self.job_type: str | None = meta.get("job_type")
        self.notes: str | None = meta.get("notes")
        self.entity: str | None = meta.get("entity")
        self.config: dict[str, Any] = self._state.config
        self.summary: dict[str, Any] = self._state.summary.snapshot()
        self.exit_code: int | None = self._state.exit_code
        self.traceback: str | None = self._state.traceback
        self.signal: str | None = self._state.signal
        self.preempted: bool = self._state.preempted
        self.provenance: dict[str, Any] | None = self._state.provenance
        self.last_seq: int = self._state.last_seq
        self.seq_gaps: int = self._state.seq_gaps
        self.records_not_written: int = self._state.writes_failed
        self.status: str = self._infer_status()

    def _final_state_from_snapshot(self) -> dict[str, Any] | None:
        """run.json's final state, when the log lacks one (a full disk) and the same writer wrote both."""
        snapshot = self._dir.read_meta()
        if not snapshot or snapshot.get("status") in (None, "running"):
            return None
        last_writer = self._state.meta
        same = all(snapshot.get(k) == last_writer.get(k) for k in ("host", "boot_id", "pid", "start_ticks"))
        return snapshot if same else None

    @property
    def dir(self) -> str:
        return self._dir.path

    @property
    def path(self) -> str:
        return f"{self.project}/{self.id}"

    def _infer_status(self) -> str:
        status = self._state.status
        if status not in (None, "running"):
            return status
        snapshot = self._final_state_from_snapshot()
        if snapshot is not None:
            self.exit_code = snapshot.get("exit_code")
            self.records_not_written = int(snapshot.get("records_not_written") or 0)
            return str(snapshot["status"])
        meta = self._state.meta
        try:
            activity = max(os.path.getmtime(self._dir.events), self._state.last_t or 0.0)
        except OSError:
            activity = self._state.last_t or 0.0
        interval = float(meta.get("heartbeat_interval") or 30.0)
        return "running" if writer_state(meta, activity, interval) == "alive" else "crashed"

    def history(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Every row (never sampled), merged by step, with ``_step`` and ``_timestamp``.

        With ``keys``, only rows holding at least one of them, reduced to those keys.
        """
        rows = self._state.history()
        if keys is None:
            return rows
        wanted = list(keys)
        picked = []
        for row in rows:
            kept = {k: row[k] for k in wanted if k in row}
            if kept:
                picked.append({"_step": row["_step"], "_timestamp": row["_timestamp"], **kept})
        return picked

    def __repr__(self) -> str:
        return f"<StoredRun {self.path} name={self.name!r} {self.status}>"


class Api:
    """Read access to a store root: ``dir`` argument, else ``TRACKER_DIR``, else ``./tracker_runs``."""

    def __init__(self, dir: str | os.PathLike[str] | None = None) -> None:  # noqa: A002
        from tracker_core._settings import resolve_settings

        self.root = os.path.abspath(os.path.expanduser(resolve_settings({"dir": dir}).dir))

    def projects(self) -> list[str]:
        try:
            return sorted(p for p in os.listdir(self.root) if os.path.isdir(os.path.join(self.root, p)))
        except FileNotFoundError:
            return []

    def runs(self, project: str) -> list[StoredRun]:
        """Every run of ``project``, oldest first."""
        folder = os.path.join(self.root, project)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        runs = [StoredRun(RunDir(self.root, project, name)) for name in names
                if os.path.isfile(os.path.join(folder, name, "events.jsonl"))]
        runs.sort(key=lambda run: (run._state.first_t or 0.0, run.id))
        return runs

    def run(self, path: str) -> StoredRun:
        """A run by ``project/id``, or by id alone when it is unique in the store.

        Raises:
            RunNotFoundError: no such run, or an id found in several projects.
        """
        if "/" in path:
            project, run_id = path.rsplit("/", 1)
            run_dir = RunDir(self.root, project, run_id)
            if run_dir.exists():
                return StoredRun(run_dir)
            raise RunNotFoundError(f"{path!r} in {self.root}")
        found = [RunDir(self.root, project, path) for project in self.projects()]
        found = [run_dir for run_dir in found if run_dir.exists()]
        if len(found) == 1:
            return StoredRun(found[0])
        if not found:
            raise RunNotFoundError(f"{path!r} in {self.root}")
        raise RunNotFoundError(f"{path!r} unique in {self.root}", "it exists in several projects: "
                               + ", ".join(d.project for d in found) + "; pass project/id")

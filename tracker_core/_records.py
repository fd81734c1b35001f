"""The writer side of a run: its log writer and lock, records other than rows (config, summary, meta,
the final ones), ``run.json``, and the live state read back from the log."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tracker_core import _lifecycle
from tracker_core._encoding import Problem, encode_tree
from tracker_core._notices import warn
from tracker_core.store._follow import LogFollower
from tracker_core.store._replay import RunState

if TYPE_CHECKING:
    from tracker_core._notices import Notices
    from tracker_core._step import SummaryBuilder
    from tracker_core.store._lock import WriterLock
    from tracker_core.store._log import LogWriter
    from tracker_core.store._run_dir import RunDir

__all__ = ["RunRecords", "after_write"]

_lifecycle.takes_run_locks(__file__)

_time = time.time
_deferred_signals = _lifecycle._deferred  # the same list object: one lookup less per write


def after_write() -> None:
    """Handle a signal that arrived while the main thread was inside a write (see ``_lifecycle``)."""
    if _deferred_signals and threading.current_thread() is threading.main_thread():
        _lifecycle.handle_deferred_signal()


class RunRecords:
    """Owns the run's ``LogWriter`` and the lock around it. ``inactive`` says why nothing is written
    (None while the run writes: "disabled", "rank", "finished", "detached", "forked")."""

    def __init__(self, run_id: str, project: str, notices: Notices, *, inactive: str | None,
                 run_dir: RunDir | None, writer: LogWriter | None, lock_file: WriterLock | None,
                 meta: Mapping[str, Any] | None, state: RunState | None) -> None:
        self.run_id = run_id
        self.project = project
        self.notices = notices
        self.inactive = inactive
        self.run_dir = run_dir
        self.writer = writer
        self.lock_file = lock_file
        self.lock = threading.Lock()
        self.meta = dict(meta or {})
        self.state = state if state is not None else RunState(keep_rows=False)  # what the log says
        self.follower = LogFollower(writer.path, self.state) if writer is not None else None

    @property
    def name(self) -> str:
        return self.meta.get("name") or self.run_id

    @property
    def path(self) -> str:
        return f"{self.project}/{self.run_id}"

    def append(self, fields: dict[str, Any], background: bool = False) -> int:
        """Write one record (not a row) and return its seq; 0 (after a warning) if it could not be persisted.

        Raises:
            PersistError: strict mode, the record was not written, and the caller is the user's thread.
        """
        if self.inactive is not None:
            return 0
        with self.lock:
            writer = self.writer
            if writer is None or self.inactive is not None:
                return 0
            seq = writer.seq + 1
            ok = writer.append({"seq": seq, "t": _time(), **fields})
        if not ok:
            self.notices.write_failed(writer, may_raise=not background)
        if _deferred_signals:
            after_write()
        return seq if ok else 0

    def sync(self) -> None:
        """fsync the log if anything was written since the last sync; never raises."""
        if self.writer is not None and self.inactive is None:
            self.writer.sync()

    def write_meta(self) -> None:
        """Replace run.json with ``meta``; a failure is warned about once (the log stays the truth)."""
        if self.run_dir is None:
            return
        try:
            self.run_dir.write_meta(self.meta)
        except OSError as exc:
            if self.notices.first("meta"):
                warn(f"tracker: could not update {self.run_dir.meta}: {exc}; the log stays the source of truth.")

    def write_final(self, final: dict[str, Any]) -> None:
        """The last records (write failures, if any, then the final status), close the log, update
        run.json, release the writer lock. The caller holds ``lock``."""
        writer = self.writer
        if writer is None:
            return
        failed_before = writer.failed
        if failed_before:
            writer.append({"seq": writer.seq + 1, "t": _time(), "type": "write_failures", "count": failed_before})
        writer.append({"seq": writer.seq + 1, "t": _time(), "type": "status", **final})
        writer.close()
        self.meta.update(final, ended=_time(), records=writer.seq, records_not_written=writer.failed)
        self.write_meta()
        if self.lock_file is not None:
            self.lock_file.release()

    def write_detach(self) -> None:
        """A ``detach`` record, close the log, release the writer lock. The caller holds ``lock``."""
        writer = self.writer
        if writer is not None:
            writer.append({"seq": writer.seq + 1, "t": _time(), "type": "detach", "pid": os.getpid()})
            writer.close()
        if self.lock_file is not None:
            self.lock_file.release()

    def forked(self) -> None:
        """In a forked child: write nothing more, touch neither the parent's file nor its lock."""
        self.inactive = "forked"
        self.lock = threading.Lock()
        if self.writer is not None:
            self.writer.abandon()
        if self.lock_file is not None:
            self.lock_file.forget_in_child()

    # ----- config and summary ------------------------------------------------------------------

    def record_config(self, changed: dict[str, Any]) -> None:
        self.append({"type": "config", "data": encode_tree(changed)})

    def live_summary(self) -> SummaryBuilder:
        """The summary as the log holds it now (in memory for a run that writes nothing)."""
        if self.follower is None:
            return self.state.summary
        return self.follower.state().summary

    def summary_set(self, values: dict[str, Any]) -> None:
        from tracker_core._config import to_config_dict

        problems: list[Problem] = []
        plain = to_config_dict(values, problems)
        if problems:
            self.notices.report_problems(problems)
        if self.follower is None:  # nothing is written: keep it in memory
            self.state.summary.set(plain)
        else:
            self.append({"type": "summary", "set": encode_tree(plain)})

    def summary_unset(self, keys: list[str]) -> None:
        if self.follower is None:
            self.state.summary.unset(keys)
        else:
            self.append({"type": "summary", "unset": keys})

"""How a run ends: ``finish()``, the hand-off from exit hooks and signals (``_lifecycle``), ``detach()``,
and a forked child.

At the end of a writing run, in this order (steps 1 to 4 bounded by ``finish_timeout``, the wait for the
upload in step 5 by ``sync_timeout``, both counted from the moment the run began to end, so ``finish()``
returns within the larger of the two):

1. a run that did not finish well raises its "run ended" alert;
2. watch hooks are removed, pending alert deliveries get a bounded wait;
3. background services that end before the final record stop (heartbeat, provenance, system, console);
4. under the run's lock: the final ``status`` record, the log closed and fsynced, run.json replaced,
   the writer lock released (``detach()`` writes a ``detach`` record instead and leaves the run running);
5. ``after_final`` services stop (an uploader sees the whole log), the exit hooks forget the run,
   the finish callbacks run, and a signal that landed meanwhile is handled.

A signal or an uncaught exception that lands while a ``finish()`` waits in step 2 or 3 writes its
own final state at once (``finish_from_hook``): the process may not get back to that ``finish()``.
In a forked child nothing of this runs: the run there writes nothing and its services are told.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tracker_core import _lifecycle
from tracker_core._errors import RunStopped, SettingsError
from tracker_core._records import _deferred_signals, after_write
from tracker_core._services import RunServices, ServiceContext

if TYPE_CHECKING:
    from tracker_core._records import RunRecords
    from tracker_core._rows import RowPath
    from tracker_core._run_alerts import AlertGlue
    from tracker_core._run_watch import WatchGlue
    from tracker_core._settings import Settings

__all__ = ["RunEnding"]

_lifecycle.takes_run_locks(__file__)

_time = time.time
_live: list[RunEnding] = []  # writing runs of this process, for the fork hook


class RunEnding:
    """The end-of-run state machine of one run; what ``_lifecycle``'s hooks call (a ``LiveRun``).

    ``callbacks`` are called with ``handle`` (the ``Run``) once the run has ended or was handed over.
    """

    def __init__(self, handle: object, settings: Settings, records: RunRecords, rows: RowPath,
                 watch: WatchGlue, alerts: AlertGlue) -> None:
        self._handle = handle
        self._settings = settings
        self._records = records
        self._rows = rows
        self._watch = watch
        self._alerts = alerts
        self._services = RunServices()
        self.owner_pid = os.getpid()
        self.callbacks: list[Callable[[Any], None]] = []
        self.preempting = False
        self._signal: tuple[int, int] | None = None  # (signum, step when it arrived)
        self._closing = threading.Lock()

    def start(self) -> None:
        """For a writing run: start the registered background services, arm the exit and fork hooks."""
        records, writer, run_dir = self._records, self._records.writer, self._records.run_dir
        if writer is None or run_dir is None:
            return
        self._services.start(ServiceContext(
            run_id=records.run_id, project=records.project, entity=records.meta.get("entity"), run_dir=run_dir.path,
            log_path=writer.path, settings=self._settings, append=lambda fields: records.append(fields, True) > 0,
            meta=lambda: dict(records.meta), sync=records.sync))
        _lifecycle.register(self)
        _live.append(self)

    def mark_preempting(self) -> None:
        self.preempting = True
        self._records.append({"type": "preempting"})

    # ----- signals --------------------------------------------------------------------------------

    def note_signal(self, signum: int, wait: float = 0.05) -> bool:
        """Record that a signal arrived; False if the run's lock stayed busy for ``wait`` seconds."""
        records = self._records
        if records.inactive is not None:
            return True
        if not records.lock.acquire(timeout=wait):
            return False
        try:
            self._signal = (signum, self._rows.step)
            writer = records.writer
            if writer is not None:
                writer.append({"seq": writer.seq + 1, "t": _time(), "type": "signal",
                               "signal": signal.Signals(signum).name})
        finally:
            records.lock.release()
        return True

    def ended_by_signal(self) -> int | None:
        """The signal that ended the run: one arrived and nothing was logged after it."""
        if self._signal is not None and self._signal[1] == self._rows.step:
            return self._signal[0]
        return None

    # ----- the end ----------------------------------------------------------------------------------

    def finish(self, exit_code: int | None, quiet: bool | None) -> None:
        """``Run.finish``: see there.

        Raises:
            SettingsError: ``exit_code`` is not an int.
        """
        if exit_code is not None and (not isinstance(exit_code, int) or isinstance(exit_code, bool)):
            raise SettingsError("exit_code", f"{exit_code!r} is not an int", "pass finish(exit_code=0) or another int")
        self._close("failed" if exit_code else "finished", exit_code or 0, quiet=quiet)

    def finish_from_hook(self, status: str, exit_code: int, traceback_text: str | None = None,
                         signal_name: str | None = None) -> None:
        """Used by the process hooks; never raises (see the module docstring for a finish under way)."""
        if status in ("failed", "killed") and self._rows.stop_reason is not None:
            status = "stopped"  # RunStopped left the program, or the agent's SIGTERM after its grace period
        try:
            if self._closing.locked() and self._records.inactive is None:
                self._write_final_now(status, exit_code, traceback_text, signal_name)
                return
            self._close(status, exit_code, traceback_text, signal_name)
        except Exception as exc:  # noqa: BLE001 - an exit hook must not fail the exit
            print(f"tracker: could not finish run {self._records.run_id}: {exc!r}", file=sys.stderr)

    def exit_block(self, kind: type[BaseException] | None, value: BaseException | None,
                   tb: TracebackType | None) -> None:
        """The end of ``with run:``: finished, or failed/killed by the exception that left the block
        (``stopped`` for ``RunStopped``)."""
        if kind is None:
            self.finish(None, None)
            return
        text = _lifecycle.format_exception(kind, value, tb)  # type: ignore[arg-type]
        if issubclass(kind, RunStopped):
            self.finish_from_hook("stopped", 0, signal_name=None)
        elif issubclass(kind, KeyboardInterrupt):
            self.finish_from_hook("killed", 128 + signal.SIGINT, text, "SIGINT")
        else:
            self.finish_from_hook("failed", 1, text)

    def _close(self, status: str, exit_code: int, traceback_text: str | None = None,
               signal_name: str | None = None, quiet: bool | None = None) -> None:
        if not self._closing.acquire(blocking=False):
            return  # finishing already, or finished
        records = self._records
        if records.inactive is not None:
            if records.inactive in ("disabled", "rank"):
                records.inactive = "finished" if records.inactive == "disabled" else records.inactive
                self._run_callbacks()
            return
        started = time.monotonic()
        deadline = started + self._settings.finish_timeout
        if status != "finished":
            self._alerts.run_ended(status, exit_code, traceback_text, signal_name, self.preempting)
        self._stop_before_final(deadline)
        if not records.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            print(f"tracker: run {records.run_id} is busy and could not be finished in time; "
                  f"readers will see it as crashed", file=sys.stderr)
            return
        try:
            if records.inactive is None:  # else a signal's hook already wrote the final state
                records.inactive = "finished"
                records.write_final(self._final(status, exit_code, traceback_text, signal_name))
        finally:
            records.lock.release()
        self._ended(started)
        if not (self._settings.silent if quiet is None else quiet):
            run_dir = records.run_dir.path if records.run_dir else None
            print(f"tracker: run {records.name} ({records.run_id}) {status} -> {run_dir}", file=sys.stderr)

    def _write_final_now(self, status: str, exit_code: int, traceback_text: str | None,
                         signal_name: str | None) -> None:
        records = self._records
        if not records.lock.acquire(timeout=1.0):
            return
        try:
            if records.inactive is None:
                records.inactive = "finished"
                records.write_final(self._final(status, exit_code, traceback_text, signal_name))
        finally:
            records.lock.release()

    def _final(self, status: str, exit_code: int, traceback_text: str | None,
               signal_name: str | None) -> dict[str, Any]:
        final: dict[str, Any] = {"status": status, "exit_code": exit_code}
        if traceback_text:
            final["traceback"] = traceback_text
        if signal_name:
            final["signal"] = signal_name
        if self.preempting:
            final["preempted"] = True
        return final

    def detach(self) -> None:
        """``Run.detach``: see there."""
        records = self._records
        if records.inactive is not None or not self._closing.acquire(blocking=False):
            return
        started = time.monotonic()
        self._stop_before_final(started + self._settings.finish_timeout)
        with records.lock:
            records.inactive = "detached"
            records.write_detach()
        self._ended(started)

    def _stop_before_final(self, deadline: float) -> None:
        """Remove watch hooks, wait (bounded) for pending alerts, stop the services that end before the final record."""
        self._watch.unwatch()
        self._alerts.flush(max(0.0, deadline - time.monotonic() - 1.0))
        self._services.stop_before_final(deadline)

    def _ended(self, started: float) -> None:
        """After the final (or detach) record: the after_final services (the uploader, given what is left
        of ``sync_timeout`` since the end began at ``started``), the hooks, the callbacks."""
        self._services.stop_after_final(started + self._settings.sync_timeout)
        _lifecycle.unregister(self)
        if self in _live:
            _live.remove(self)
        self._run_callbacks()
        if _deferred_signals:
            after_write()

    def _run_callbacks(self) -> None:
        for callback in self.callbacks:
            callback(self._handle)
        self.callbacks.clear()

    def forked(self) -> None:
        """In a forked child: never write into the parent's run, never end it."""
        self._closing = threading.Lock()
        self._closing.acquire()
        self._records.forked()
        self._services.forked()


def _after_fork_in_child() -> None:
    for ending in list(_live):
        ending.forked()
    _live.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)

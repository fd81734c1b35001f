"""The built-in background services of a writing run, registered with ``tracker_core._services``:

- ``heartbeat``: a heartbeat record every ``heartbeat_interval`` seconds and an fsync of the log
  every ``fsync_interval`` seconds, so readers can tell a live run from a dead one;
- ``provenance``: what produced the run (command, git, packages, hardware), collected once off
  the training thread into a ``provenance`` record;
- ``system``: system metrics every ``system_interval`` seconds (``system`` records);
- ``console``: stdout/stderr copied into ``files/output.log`` (``console="auto"``);
- ``uploader`` (``mode="online"``, after the final record): the run streamed to the team server.

Importing this module registers them, in that order (the order they start and stop in).
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from tracker_core import _services, _workers
from tracker_core._encoding import encode_tree, tag_row
from tracker_core._errors import TrackerWarning
from tracker_core._services import ServiceContext

__all__ = ["Periodic"]


def _remaining(deadline: float, cap: float) -> float:
    return max(0.0, min(cap, deadline - time.monotonic()))


class Periodic:
    """Calls ``tick`` every ``period`` seconds from ``start()`` until ``stop()``, on a daemon thread of
    ``tracker_core._workers`` (one a previous run left idle, when there is one), so it never holds up exit."""

    def __init__(self, tick: Callable[[], None], period: float, name: str) -> None:
        self.name = name
        self._tick = tick
        self._period = period
        self._stopped = threading.Event()
        self._job: _workers.Job | None = None

    def start(self) -> None:
        self._job = _workers.spawn(self._run, self.name)

    def _run(self) -> None:
        while not self._stopped.wait(self._period):
            self._tick()

    def is_alive(self) -> bool:
        return self._job is not None and self._job.is_alive()

    def stop(self, timeout: float) -> None:
        """Ask it to end; wait up to ``timeout`` seconds for it (not when called from its own thread)."""
        self._stopped.set()
        if self._job is not None:
            self._job.join(timeout)


class Heartbeat:
    """A heartbeat record and an fsync of the log, each when its interval has passed."""

    name = "heartbeat"

    def __init__(self, context: ServiceContext) -> None:
        settings = context.settings
        self._append, self._sync = context.append, context.sync
        self._heartbeat_interval = settings.heartbeat_interval
        self._fsync_interval = settings.fsync_interval
        self._last_heartbeat = self._last_fsync = time.monotonic()
        beats = [settings.heartbeat_interval, settings.fsync_interval or settings.heartbeat_interval]
        self._thread = Periodic(self._tick, max(min(beats) / 2, 0.05), f"tracker-heartbeat-{context.run_id}")

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat >= self._heartbeat_interval:
            self._last_heartbeat = now
            self._append({"type": "heartbeat"})
        if now - self._last_fsync >= self._fsync_interval:  # outside the run's lock: log() never waits for it
            self._last_fsync = now
            self._sync()

    def start(self) -> None:
        self._thread.start()

    def stop(self, deadline: float) -> None:
        self._thread.stop(_remaining(deadline, 1.0))

    def forked(self) -> None:
        self._thread.stop(0.0)  # the thread itself did not survive the fork


class Provenance:
    """Collects provenance on a daemon thread and appends it as one ``provenance`` record; appends it at
    once, with no thread, when ``ready`` has it (collected for an earlier run of this process)."""

    name = "provenance"

    def __init__(self, context: ServiceContext, collect: Callable[[], dict[str, Any]],
                 ready: Callable[[], dict[str, Any] | None] = lambda: None) -> None:
        self._append = context.append
        self._collect = collect
        self._ready = ready
        self._name = f"tracker-provenance-{context.run_id}"
        self._job: _workers.Job | None = None

    def _record(self) -> None:
        time.sleep(0)  # hand the GIL back to init(), which waits for this thread to start, before collecting
        try:
            info = self._collect()
        except Exception as exc:  # noqa: BLE001 - provenance is best effort
            info = {"error": repr(exc)}
        self._append({"type": "provenance", "data": encode_tree(info)})

    def start(self) -> None:
        info = self._ready()
        if info is not None:
            self._append({"type": "provenance", "data": encode_tree(info)})
            return
        self._job = _workers.spawn(self._record, self._name)

    def stop(self, deadline: float) -> None:
        if self._job is not None and self._job.is_alive():
            self._job.join(timeout=_remaining(deadline, 2.0))

    def forked(self) -> None:
        pass


class SystemMetrics:
    """``tracker_core.system.SystemSampler`` writing ``system`` records (against wall-clock time, not the step)."""

    name = "system"

    def __init__(self, context: ServiceContext) -> None:
        from tracker_core.system import SystemSampler

        settings = context.settings
        labels = {"rank": str(context.meta().get("rank", 0))} if settings.distributed == "all" else None
        self._append = context.append
        self._sampler = SystemSampler(self._record, settings.system_interval, labels)
        self._job: _workers.Job | None = None

    def _record(self, metrics: dict[str, Any]) -> None:
        self._append({"type": "system", "data": tag_row(metrics)})

    def start(self) -> None:
        self._job = _workers.spawn(self._sampler.run, self._sampler.name)  # the sampler's loop on a reused thread

    def stop(self, deadline: float) -> None:
        self._sampler.stop(timeout=0.0)  # its thread was never started: this only asks the loop to end
        if self._job is not None:
            self._job.join(_remaining(deadline, 1.0))

    def forked(self) -> None:
        pass


class Console:
    """Saves stdout/stderr to the run's ``files/output.log``; off (one warning) if the file cannot be opened."""

    name = "console"

    def __init__(self, context: ServiceContext) -> None:
        self._path = os.path.join(context.run_dir, "files", "output.log")
        self._hide = _secrets(context)
        self._capture: Any = None  # tracker_core._console.ConsoleCapture

    def start(self) -> None:
        from tracker_core._console import ConsoleCapture

        try:
            self._capture = ConsoleCapture(self._path, self._hide)
        except OSError as exc:
            warnings.warn(f"tracker: console capture off: cannot open {self._path}: {exc}", TrackerWarning,
                          stacklevel=2)

    def stop(self, deadline: float) -> None:
        if self._capture is not None:
            self._capture.stop()

    def forked(self) -> None:
        self.stop(0.0)  # the child's prints are its own: give it back the original streams


def _heartbeat(context: ServiceContext) -> Heartbeat:
    return Heartbeat(context)


def _provenance(context: ServiceContext) -> Provenance | None:
    settings = context.settings
    exclude = set(settings.provenance_exclude)
    if "all" in exclude:
        return None
    from tracker_core import _provenance as provenance

    secrets = _secrets(context)
    return Provenance(context, lambda: provenance.collect(exclude, settings.git_diff_max_bytes, secrets=secrets),
                      lambda: provenance.shared(exclude, settings.git_diff_max_bytes, secrets=secrets))


def _system(context: ServiceContext) -> SystemMetrics | None:
    return SystemMetrics(context) if context.settings.system_interval > 0 else None


def _console(context: ServiceContext) -> Console | None:
    return Console(context) if context.settings.console == "auto" else None


def _secrets(context: ServiceContext) -> list[str]:
    """The API keys to keep out of what the run records (provenance, console capture)."""
    key = context.settings.api_key
    if key is None and "TRACKER_API_KEY" not in os.environ:
        return []
    from tracker_core.sync._credentials import secret_values

    return secret_values(key.get_secret_value() if key is not None else None)


def _uploader(context: ServiceContext) -> _services.Service | None:
    """``mode="online"``: the uploader to the team server, stopped after the final record (``tracker_core.sync``)."""
    if context.settings.mode != "online":
        return None
    from tracker_core.sync._uploader import uploader_service

    return uploader_service(context)


for _factory in (_heartbeat, _provenance, _system, _console):
    _services.register(_factory)
_services.register(_uploader, after_final=True)

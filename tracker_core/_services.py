"""Background services: work that starts with a writing run and stops, bounded, when it ends.

A service is registered once per process with a factory; every writing run (not a disabled,
non-zero-rank or forked one) then asks each factory for its service and starts it::

    from tracker_core import _services

    def make_uploader(context: _services.ServiceContext) -> _services.Service | None:
        return Uploader(context) if context.settings.server else None   # None: not for this run

    _services.register(make_uploader, after_final=True)

The run's end, in order: services with ``after_final=False`` are stopped (they may still
``append``), the final status record is written and the log closed, then services with
``after_final=True`` are stopped (they see the whole log, final status included).
``detach()`` does the same around its detach record. In a forked child, every service's
``forked()`` is called instead. A factory or service that raises is reported once as a
``TrackerWarning`` and skipped; the run goes on and ends as it would have.

The heartbeat, provenance, system metrics and console capture are services registered in
``tracker_core._background``.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tracker_core._errors import TrackerWarning

if TYPE_CHECKING:
    from tracker_core._settings import Settings

__all__ = ["RunServices", "Service", "ServiceContext", "ServiceFactory", "register", "unregister"]


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class ServiceContext:
    """What a service may use of its run. ``append`` and ``sync`` are safe from any thread."""

    run_id: str
    project: str
    entity: str | None
    run_dir: str
    """The run's folder."""
    log_path: str
    """``<run_dir>/events.jsonl``."""
    settings: Settings
    """The run's resolved settings."""
    append: Callable[[dict[str, Any]], bool]
    """Append a record (``{"type": ..., ...}``; seq and t are assigned); False if it was not written
    (the log is closed, or the write failed: then the run warns once, never raises)."""
    meta: Callable[[], dict[str, Any]]
    """A copy of the run's current ``run.json`` metadata."""
    sync: Callable[[], None] = _nothing
    """fsync the log if anything was written since the last sync (outside the run's lock)."""


class Service(Protocol):
    """One background service of one run."""

    name: str

    def start(self) -> None:
        """Begin; must return at once (start a daemon thread for lasting work)."""

    def stop(self, deadline: float) -> None:
        """End by ``deadline`` (a ``time.monotonic()`` value); never raise."""

    def forked(self) -> None:
        """In a forked child of the run's process: stop touching anything shared; never write."""


ServiceFactory = Callable[[ServiceContext], "Service | None"]
"""Makes a run's service, or returns None when this run does not want it."""

_lock = threading.Lock()
_factories: list[tuple[ServiceFactory, bool]] = []


def register(factory: ServiceFactory, *, after_final: bool = False) -> None:
    """Start a service from ``factory`` with every writing run opened from now on (once per factory).

    ``after_final=True``: stopped after the final status record is written and the log closed,
    with a deadline of ``finish_timeout`` seconds from then (for an uploader of the whole log);
    otherwise stopped before the final record, within the ``finish()`` deadline.
    """
    with _lock:
        if all(known is not factory for known, _ in _factories):
            _factories.append((factory, after_final))


def unregister(factory: ServiceFactory) -> None:
    """Runs opened from now on no longer start ``factory``'s service; running ones keep it."""
    with _lock:
        _factories[:] = [entry for entry in _factories if entry[0] is not factory]


def _warn(message: str) -> None:
    warnings.warn(message, TrackerWarning, stacklevel=2)


class RunServices:
    """The services of one run, started and stopped in registration order; never raises."""

    def __init__(self) -> None:
        self._before: list[Service] = []
        self._after: list[Service] = []

    def start(self, context: ServiceContext) -> None:
        """Make and start each registered service; one that raises is warned about and skipped."""
        with _lock:
            factories = list(_factories)
        for factory, after_final in factories:
            name = getattr(factory, "__qualname__", repr(factory))
            try:
                service = factory(context)
                if service is None:
                    continue
                name = getattr(service, "name", name)
                service.start()
            except Exception as exc:  # noqa: BLE001 - a side system must never break init (DESIGN principle 1)
                _warn(f"tracker: background service {name} of run {context.run_id} could not start and is off: "
                      f"{exc!r}. The run goes on without it.")
                continue
            (self._after if after_final else self._before).append(service)

    def stop_before_final(self, deadline: float) -> None:
        """Stop the services that end before the final record (within ``deadline``)."""
        self._stop(self._before, deadline)

    def stop_after_final(self, deadline: float) -> None:
        """Stop the services that end after the final record and the closed log."""
        self._stop(self._after, deadline)

    def forked(self) -> None:
        """In a forked child: tell every service, silently (the child must not write or warn for the parent)."""
        services, self._before, self._after = self._before + self._after, [], []
        for service in services:
            try:
                service.forked()
            except Exception:  # noqa: BLE001, S110 - nothing may go wrong for the parent's run in a child
                pass

    @staticmethod
    def _stop(services: list[Service], deadline: float) -> None:
        stopping, services[:] = list(services), []
        for service in stopping:
            try:
                service.stop(deadline)
            except Exception as exc:  # noqa: BLE001 - a side system must never break finish
                _warn(f"tracker: background service {getattr(service, 'name', service)!s} failed to stop: "
                      f"{exc!r}. The run ended anyway.")

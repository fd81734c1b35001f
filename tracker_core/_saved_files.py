"""``save(glob, base_path=, policy=)``: files copied into the run's ``files/`` folder, as W&B's ``save``.

- ``now``: copied at once;
- ``live``: copied at once, then again whenever the file changes (size or mtime), checked every
  ``LIVE_CHECK_SECONDS`` by the run's ``saved-files`` background service, and a last time at the end;
- ``end``: copied when the run ends (finish, exception, signal; before the final status record).

Copies are atomic (a temporary file renamed into place), so a reader never sees half a file.
A file that cannot be copied (gone, unreadable, a full disk) is warned about once and skipped;
the run goes on. The service stops within the run's ``finish()`` deadline; an ``end`` or ``live``
file still to copy when the deadline passes is left out, with a warning.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import warnings
from collections.abc import Callable

from tracker_core import _services, _workers
from tracker_core._errors import TrackerWarning
from tracker_core._services import ServiceContext

__all__ = ["LIVE_CHECK_SECONDS", "SavedFiles", "copy_atomically", "saved_files_of"]

LIVE_CHECK_SECONDS = 1.0

_registry: dict[str, SavedFiles] = {}  # run folder -> its service
_registry_lock = threading.Lock()


def saved_files_of(run_dir: str) -> SavedFiles | None:
    """The ``saved-files`` service of the writing run in ``run_dir``, if it is running."""
    with _registry_lock:
        return _registry.get(run_dir)


def copy_atomically(source: str, destination: str) -> None:
    """Copy ``source`` to ``destination`` through a temporary file in the same folder. Raises OSError."""
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    temporary = f"{destination}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, destination)
    except OSError:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _signature(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


class SavedFiles:
    """The files a run saved with ``live`` or ``end`` policies, and the thread that re-copies live ones."""

    name = "saved-files"

    def __init__(self, context: ServiceContext) -> None:
        self._run_dir = context.run_dir
        self._run_id = context.run_id
        self._lock = threading.Lock()
        self._live: dict[str, tuple[str, tuple[int, int] | None]] = {}  # destination -> (source, copied signature)
        self._end: dict[str, str] = {}  # destination -> source
        self._warned: set[str] = set()
        self._stopped = threading.Event()
        self._thread: _workers.Job | None = None

    def start(self) -> None:
        with _registry_lock:
            _registry[self._run_dir] = self

    def watch(self, source: str, destination: str, policy: str) -> None:
        """Copy ``source`` as ``destination`` by ``policy`` ("now" is handled by the caller)."""
        with self._lock:
            if policy == "end":
                self._end[destination] = source
                return
            self._live[destination] = (source, None)
            if self._thread is None and not self._stopped.is_set():
                self._thread = _workers.spawn(self._loop, f"tracker-saved-files-{self._run_id}")
        self._copy_live(destination)

    def _loop(self) -> None:
        while not self._stopped.wait(LIVE_CHECK_SECONDS):
            for destination in self._live_destinations():
                self._copy_live(destination)

    def _live_destinations(self) -> list[str]:
        with self._lock:
            return list(self._live)

    def _copy_live(self, destination: str) -> None:
        """Copy a live file if it changed since its last copy."""
        with self._lock:
            source, copied = self._live[destination]
        now = _signature(source)
        if now is None or now == copied:
            if now is None:
                self._warn(source, "it is gone or cannot be read; its last copy stays")
            return
        if self._copy(source, destination):
            with self._lock:
                self._live[destination] = (source, now)

    def _copy(self, source: str, destination: str) -> bool:
        try:
            copy_atomically(source, destination)
        except OSError as exc:
            self._warn(source, f"it could not be copied: {exc}")
            return False
        return True

    def _warn(self, source: str, why: str) -> None:
        if source in self._warned:
            return
        self._warned.add(source)
        warnings.warn(f"tracker: saved file {source!r} of run {self._run_id}: {why}. The run goes on.",
                      TrackerWarning, stacklevel=2)

    def stop(self, deadline: float) -> None:
        """Stop re-copying; copy the live files that changed and the end files, until ``deadline``."""
        self._stopped.set()
        thread = self._thread
        if thread is not None:  # at once from the loop's own thread
            thread.join(max(0.0, min(1.0, deadline - time.monotonic())))
        with _registry_lock:
            if _registry.get(self._run_dir) is self:
                del _registry[self._run_dir]
        with self._lock:
            live, end = list(self._live), dict(self._end)
        work: list[Callable[[], object]] = [lambda d=d: self._copy_live(d) for d in live]  # type: ignore[misc]
        work += [lambda s=s, d=d: self._copy(s, d) for d, s in end.items()]  # type: ignore[misc]
        for index, step in enumerate(work):
            if time.monotonic() >= deadline:
                left = len(work) - index
                warnings.warn(f"tracker: run {self._run_id} ended before {left} saved file(s) could be copied "
                              f"(finish_timeout); they are not in its files/ folder.", TrackerWarning, stacklevel=2)
                return
            step()

    def forked(self) -> None:
        self._stopped.set()  # the thread did not survive the fork; the child copies nothing
        _registry.pop(self._run_dir, None)  # no lock: another thread may have held it at the fork


def _saved_files(context: ServiceContext) -> SavedFiles:
    return SavedFiles(context)


_services.register(_saved_files)

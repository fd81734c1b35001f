"""Reused daemon threads for all of the tracker's background work: ``spawn(target, name)`` runs ``target``
on an idle thread of this process when there is one, and starts a new daemon thread only when there is not.

``Thread.start()`` returns only once the new thread has been scheduled: 6-8 ms on a loaded 2-core
machine, paid by ``init()`` for each of a run's threads (heartbeat, system sampler, uploader). A
process that opens many runs one after another (a sweep agent's in-process trials) hands its next
run's work to the threads the last run's services left idle: a lock and an event, no wait for the
scheduler. What a job may rely on is what a thread gave it: it runs on a daemon thread (never holding
up exit) named ``name`` while it runs, ``join(timeout)`` waits for it to return, and in a forked child
it is not alive (the threads did not survive the fork; the child starts its own).

An idle thread ends after ``IDLE_SECONDS`` with no work; at most ``MAX_IDLE`` wait at once. The
threads block SIGINT and SIGTERM from their start (``_start_leaving_signals_to_the_main_thread``).
"""

from __future__ import annotations

import os
import signal
import threading
import traceback
from collections.abc import Callable

__all__ = ["IDLE_SECONDS", "MAX_IDLE", "Job", "idle_count", "spawn"]

IDLE_SECONDS = 30.0
MAX_IDLE = 8

_lock = threading.Lock()
_idle: list[_Worker] = []
_MAIN_THREAD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _start_leaving_signals_to_the_main_thread(worker: threading.Thread) -> None:
    """Start ``worker`` with SIGINT and SIGTERM blocked from its first instruction (a thread is born with its
    creator's mask, so they are blocked here around ``start()`` and the caller's mask put back after), so that
    only the program's own threads take them. Python runs a handler on the main thread only, and only once
    that thread runs Python again: a SIGTERM that a background thread took while the main thread slept in a
    read (``input()``, a socket) was never handled; under load, 7 of 60 SIGTERMs sent in init()'s first
    30 ms. One that arrives meanwhile waits, pending, and reaches the caller when its mask is put back."""
    if not hasattr(signal, "pthread_sigmask"):
        worker.start()
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, _MAIN_THREAD_SIGNALS)
    try:
        worker.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


class Job:
    """One ``target`` handed to a worker thread; ``join``/``is_alive`` as on a ``threading.Thread``."""

    def __init__(self, target: Callable[[], object], name: str) -> None:
        self.name = name
        self._target = target
        self._pid = os.getpid()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def is_alive(self) -> bool:
        """True until ``target`` has returned (False in a forked child: its thread is not there)."""
        return not self._done.is_set() and os.getpid() == self._pid

    def join(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` seconds for ``target`` to return; at once from its own thread or a child."""
        if self.is_alive() and not self.is_current():
            self._done.wait(timeout)

    def is_current(self) -> bool:
        """True when called from the thread running this job."""
        return self._thread is threading.current_thread()


class _Worker(threading.Thread):
    def __init__(self, job: Job) -> None:
        super().__init__(name=job.name, daemon=True)
        self._job: Job | None = job
        self._handed = threading.Event()

    def hand(self, job: Job) -> None:
        """Give this idle worker its next job (called under ``_lock``, after taking it off ``_idle``)."""
        self._job = job
        self._handed.set()

    def run(self) -> None:
        while True:
            job, self._job = self._job, None
            assert job is not None
            self.name = job.name
            job._thread = self
            try:
                job._target()
            except Exception:  # noqa: BLE001 - as a plain thread would: report it, the process goes on
                traceback.print_exc()
            job._target = _nothing  # drop what the job held (its run) while the thread waits
            self.name = "tracker-worker-idle"
            parked = self._park()
            job._done.set()  # after parking: the run that joined it finds this thread idle for its next job
            if not parked or not self._wait():
                return

    def _park(self) -> bool:
        with _lock:
            if len(_idle) >= MAX_IDLE or self._forked():
                return False
            _idle.append(self)
            return True

    def _wait(self) -> bool:
        self._handed.wait(IDLE_SECONDS)
        with _lock:
            if not self._handed.is_set():  # nothing came: end (no one can hand us work once off the list)
                if self in _idle:
                    _idle.remove(self)
                return False
            self._handed.clear()
            return True

    _pid = os.getpid()

    @classmethod
    def _forked(cls) -> bool:
        return os.getpid() != cls._pid


def _nothing() -> None:
    return None


def spawn(target: Callable[[], object], name: str) -> Job:
    """Run ``target`` on an idle worker thread, or on a new daemon thread; returns at once.

    Raises:
        RuntimeError: a new thread could not be started (as ``Thread.start()``).
    """
    job = Job(target, name)
    with _lock:
        worker = _idle.pop() if _idle else None
        if worker is not None:
            worker.hand(job)
    if worker is None:
        _start_leaving_signals_to_the_main_thread(_Worker(job))
    return job


def idle_count() -> int:
    """How many worker threads are parked with no work (they hold no lock a forked child could need)."""
    with _lock:
        return len(_idle)


def _after_fork_in_child() -> None:
    """The parent's threads are gone in the child: forget them, and the lock one of them may have held."""
    global _lock
    _lock = threading.Lock()
    _idle.clear()
    _Worker._pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork_in_child)

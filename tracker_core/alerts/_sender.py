"""The background sender: one daemon thread per run delivers alerts with bounded, jittered retries.

Each (alert, target) is tried up to ``attempts`` times. Waits grow exponentially from ``backoff``
(capped at ``max_backoff``) plus a random jitter of up to ``backoff``; a server's ``Retry-After``
replaces the wait (capped at ``max_backoff`` too). Every outcome is reported exactly once, through
``report``: delivered, or not with the reason. ``flush`` waits a bounded time, then reports what is
left as undelivered and stops the thread, which never holds up the process's exit (a daemon).
requests and tenacity are imported on this thread, never on the caller's.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from tracker_core import _workers
from tracker_core.alerts._config import RetryPolicy
from tracker_core.alerts._messages import Alert
from tracker_core.alerts._targets import DeliveryError, Target

__all__ = ["AlertSender", "Outcome"]


class Outcome(NamedTuple):
    delivered: bool
    attempts: int
    reason: str | None = None


class _Abandoned(Exception):
    """The run ended while this alert waited for its next attempt."""


class _Job(NamedTuple):
    alert: Alert
    target: Target
    policy: RetryPolicy


class AlertSender:
    """Delivers submitted alerts on a daemon thread; ``report(alert, target, outcome)`` once for each."""

    def __init__(self, report: Callable[[Alert, Target, Outcome], None], name: str) -> None:
        self._report = report
        self._name = name
        self._queue: queue.Queue[tuple[int, _Job] | None] = queue.Queue()
        self._pending: dict[int, _Job] = {}
        self._attempts: dict[int, int] = {}
        self._ids = itertools.count()
        self._changed = threading.Condition()
        self._abandon = threading.Event()
        self._thread: _workers.Job | None = None

    def submit(self, alert: Alert, targets: tuple[Target, ...], policy: RetryPolicy) -> None:
        """Queue ``alert`` for each target; returns at once (starts the thread on first use)."""
        with self._changed:
            if self._abandon.is_set():
                return
            if self._thread is None:
                self._thread = _workers.spawn(self._work, self._name)
            for target in targets:
                job_id = next(self._ids)
                self._pending[job_id] = _Job(alert, target, policy)
                self._queue.put((job_id, self._pending[job_id]))

    def flush(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for every queued alert, then report the rest as undelivered
        and stop the thread. Nothing is sent afterwards."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._pending and (left := deadline - time.monotonic()) > 0:
                self._changed.wait(left)
            self._abandon.set()
            left_over = [(job, self._attempts.get(job_id, 0)) for job_id, job in self._pending.items()]
            self._pending.clear()
            for job, attempts in left_over:
                self._report(job.alert, job.target, Outcome(
                    False, attempts, f"not delivered when the run ended ({attempts} attempts; the end of the run "
                                     f"waits at most {timeout:g} s for pending alerts)"))
        self._queue.put(None)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None or self._abandon.is_set():
                return
            job_id, job = item
            outcome = self._deliver(job_id, job)
            with self._changed:
                if self._pending.pop(job_id, None) is not None and outcome is not None:
                    self._report(job.alert, job.target, outcome)  # under the lock: flush never misses it
                self._changed.notify_all()

    def _deliver(self, job_id: int, job: _Job) -> Outcome | None:
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

        policy, target = job.policy, job.target
        backoff = wait_exponential(multiplier=policy.backoff, max=policy.max_backoff) + wait_random(0, policy.backoff)

        def wait(state: Any) -> float:
            error = state.outcome.exception() if state.outcome is not None else None
            if isinstance(error, DeliveryError) and error.retry_after is not None:
                return min(error.retry_after, policy.max_backoff)
            return float(backoff(state))

        def attempt() -> None:
            self._attempts[job_id] = self._attempts.get(job_id, 0) + 1
            target.send(job.alert, policy.timeout)

        retrying = Retrying(stop=stop_after_attempt(policy.attempts), wait=wait, sleep=self._sleep, reraise=True,
                            retry=retry_if_exception(lambda e: isinstance(e, DeliveryError) and e.retry))
        try:
            retrying(attempt)
        except _Abandoned:
            return None
        except DeliveryError as error:
            attempts = self._attempts[job_id]
            return Outcome(False, attempts, error.reason + (f" (after {attempts} attempts)" if attempts > 1 else ""))
        except Exception as error:  # noqa: BLE001 - a failing target must not stop the sender
            reason = target.hide_secrets(f"{type(error).__name__}: {error}")
            return Outcome(False, self._attempts.get(job_id, 0), reason)
        return Outcome(True, self._attempts[job_id])

    def _sleep(self, seconds: float) -> None:
        if self._abandon.wait(seconds):
            raise _Abandoned

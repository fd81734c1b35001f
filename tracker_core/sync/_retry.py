"""Retrying a server call: jittered exponential backoff (tenacity), a server's ``Retry-After`` honoured."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tracker_core.sync._client import ServerError

__all__ = ["Abandoned", "retrying"]

_T = TypeVar("_T")


class Abandoned(Exception):
    """The caller gave up while waiting for the next attempt (the run's sync deadline passed)."""


def retrying(call: Callable[[], _T], sleep: Callable[[float], None], *, attempts: int | None = None,
             first_wait: float = 0.5, max_wait: float = 30.0,
             on_retry: Callable[[ServerError], None] | None = None) -> _T:
    """``call()`` until it succeeds, while its ServerError is retryable; ``attempts`` None: no limit.

    Waits grow from ``first_wait`` to ``max_wait`` plus a random jitter of up to ``first_wait``; a
    ``Retry-After`` replaces the wait (capped at ``max_wait``). ``sleep`` may raise ``Abandoned``.

    Raises:
        ServerError: a refusal that is not worth retrying, or the last one after ``attempts``.
        Abandoned: from ``sleep``.
    """
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_never, wait_exponential, wait_random

    backoff = wait_exponential(multiplier=first_wait, max=max_wait) + wait_random(0, first_wait)

    def wait(state: Any) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, ServerError):
            if on_retry is not None:
                on_retry(error)
            if error.retry_after is not None:
                return min(error.retry_after, max_wait)
        return float(backoff(state))

    policy = Retrying(stop=stop_never if attempts is None else stop_after_attempt(attempts), wait=wait, sleep=sleep,
                      retry=retry_if_exception(lambda e: isinstance(e, ServerError) and e.retryable), reraise=True)
    return policy(call)

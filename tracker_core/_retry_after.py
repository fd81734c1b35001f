"""The ``Retry-After`` header, as HTTP clients of the tracker (alert delivery, the server client) read it."""

from __future__ import annotations

import time

__all__ = ["retry_after"]


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils  # seldom needed: not loaded with the clients

    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None

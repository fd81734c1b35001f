"""Small file-descriptor helpers shared by the log writer, the writer lock and console capture."""

from __future__ import annotations

import os

__all__ = ["close_quietly"]


def close_quietly(fd: int) -> None:
    """Close ``fd`` if it is open (>= 0), ignoring errors: for shutdown and forked-child paths."""
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass

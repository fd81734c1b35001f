"""The writer lock: at most one process appends to a run at a time."""

from __future__ import annotations

import fcntl
import os
import time

from tracker_core._fileio import close_quietly

__all__ = ["WriterLock"]


class WriterLock:
    """An exclusive ``flock`` on the run's ``.lock`` file, released by the kernel when its owner dies.

    The file also holds a line naming the owner, for error messages.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = -1

    def try_acquire(self, owner: str, patience: float = 0.25) -> bool:
        """Take the lock, retrying for up to ``patience`` seconds; True on success.

        The retry covers a dead writer's lock that outlives it for a few milliseconds: a child
        it was starting (git, say) holds the descriptor until that child runs its program.

        Raises:
            OSError: the lock file cannot be opened.
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + patience
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.01)
        os.ftruncate(fd, 0)
        os.pwrite(fd, owner.encode(), 0)
        self._fd = fd
        return True

    def owner(self) -> str:
        """Who holds (or last held) the lock, as written by them."""
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                return handle.read().strip() or "another process"
        except OSError:
            return "another process"

    def release(self) -> None:
        """Unlock and close; idempotent."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def forget_in_child(self) -> None:
        """Drop a forked child's copy of the descriptor without unlocking the parent's lock."""
        fd, self._fd = self._fd, -1
        close_quietly(fd)

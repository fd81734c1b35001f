"""Saving the process's stdout and stderr into the run without changing what the user sees."""

from __future__ import annotations

import os
import sys
from collections.abc import Collection
from typing import Any, TextIO

from tracker_core._fileio import close_quietly

__all__ = ["ConsoleCapture"]


class _Tee:
    """Stands in for sys.stdout/sys.stderr: writes go to the original stream, then to the file."""

    def __init__(self, original: TextIO, capture: ConsoleCapture) -> None:
        self._original = original
        self._capture = capture

    def write(self, text: str) -> int:
        written = self._original.write(text)
        self._capture.save(text)
        return written

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class ConsoleCapture:
    """Appends everything printed through sys.stdout/sys.stderr to ``path`` (unbuffered), with the
    strings in ``hide`` (an API key) replaced by ``***``.

    ``stop()`` puts the original streams back (or, if something else wrapped them
    since, just stops saving). A failing file write stops saving; it never raises.
    """

    def __init__(self, path: str, hide: Collection[str] = ()) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._hide = [secret for secret in hide if secret]
        self._tees: list[tuple[str, _Tee]] = []
        for name in ("stdout", "stderr"):
            original = getattr(sys, name)
            if original is not None:
                tee = _Tee(original, self)
                setattr(sys, name, tee)
                self._tees.append((name, tee))

    def save(self, text: str) -> None:
        if self._fd >= 0 and text:
            for secret in self._hide:  # an API key printed by the program stays out of the file
                text = text.replace(secret, "***")
            try:
                os.write(self._fd, text.encode("utf-8", errors="replace"))
            except OSError:
                self.close_file()

    def stop(self) -> None:
        for name, tee in self._tees:
            if getattr(sys, name) is tee:
                setattr(sys, name, tee._original)
        self._tees.clear()
        self.close_file()

    def close_file(self) -> None:
        fd, self._fd = self._fd, -1
        close_quietly(fd)

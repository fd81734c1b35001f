"""A count of runs done, drawn on stderr while an import or export works (tqdm when importable)."""

from __future__ import annotations

import importlib
import sys
import time
from typing import Any

__all__ = ["RunProgress"]


class RunProgress:
    """``advance(label)`` after each run; ``close()`` at the end. Silent when ``enabled`` is False."""

    def __init__(self, total: int, label: str, enabled: bool = True) -> None:
        self.total, self.label, self.enabled = total, label, enabled
        self.done = 0
        self._drawn = 0.0
        self._bar: Any = None
        if enabled and sys.stderr.isatty():
            try:
                tqdm = importlib.import_module("tqdm")
                self._bar = tqdm.tqdm(total=total, desc=label, unit="run", file=sys.stderr)
            except ImportError:
                self._bar = None

    def advance(self, what: str = "") -> None:
        self.done += 1
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(1)
            return
        now = time.monotonic()
        if now - self._drawn > 1.0 or self.done == self.total:
            self._drawn = now
            end = "\r" if sys.stderr.isatty() else "\n"
            sys.stderr.write(f"{self.label}: {self.done}/{self.total} runs {what}{end}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self._bar is not None:
            self._bar.close()
        elif self.enabled and sys.stderr.isatty():
            sys.stderr.write("\n")

"""Progress for large commits and downloads: tqdm when importable, else a plain stderr line.

Shown when ``progress`` is True, or when it is None and stderr is a terminal.
"""

from __future__ import annotations

import importlib
import sys
import time
from typing import Any

__all__ = ["Progress"]


def _human(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000:
            return f"{count:.0f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"


class Progress:
    """A byte counter that draws itself when enabled; ``update(n)`` is cheap when it is not."""

    def __init__(self, enabled: bool | None, total: int, label: str) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.enabled, self.total, self.label = enabled, total, label
        self.done, self._drawn = 0, 0.0
        self._bar: Any = None
        if enabled:
            try:
                tqdm = importlib.import_module("tqdm")
                self._bar = tqdm.tqdm(total=total, desc=label, unit="B", unit_scale=True, file=sys.stderr)
            except ImportError:
                self._bar = None

    def update(self, count: int) -> None:
        if not self.enabled:
            return
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
        elif time.monotonic() - self._drawn > 0.5:
            self._drawn = time.monotonic()
            sys.stderr.write(f"\r{self.label}: {_human(self.done)} / {_human(self.total)}")
            sys.stderr.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        else:
            sys.stderr.write(f"\r{self.label}: {_human(self.done)} / {_human(self.total)}, done\n")
            sys.stderr.flush()

"""A run's live state, kept by folding in the log's new records when someone asks for it.

The writer's hot path stays free of summary bookkeeping: ``run.summary`` reads what the log
holds, which is also exactly what readers of the store will see.
"""

from __future__ import annotations

import os
import threading

from tracker_core.store._log import parse_records
from tracker_core.store._replay import RunState

__all__ = ["LogFollower"]


class LogFollower:
    """Folds the records appended to ``path`` after ``offset`` into ``state``; thread-safe."""

    def __init__(self, path: str, state: RunState, offset: int) -> None:
        self._path = path
        self._state = state
        self._offset = offset
        self._lock = threading.Lock()

    def state(self) -> RunState:
        """The state up to the last complete record on disk. A read error leaves it as it was."""
        with self._lock:
            try:
                with open(self._path, "rb") as handle:
                    handle.seek(self._offset)
                    data = handle.read()
            except OSError:
                return self._state
            end = data.rfind(b"\n") + 1
            if end:
                for record in parse_records(data[:end]):
                    self._state.apply(record)
                self._offset += end
            return self._state

    @staticmethod
    def size(path: str) -> int:
        try:
            return os.path.getsize(path)
        except OSError:
            return 0

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
    """Folds the records appended to ``path`` from now on into ``state``, which holds what the log
    held up to now (empty for a new run, replayed for a resumed one); thread-safe."""

    def __init__(self, path: str, state: RunState) -> None:
        self._path = path
        self._state = state
        try:
            self._offset = os.path.getsize(path)
        except OSError:
            self._offset = 0
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

"""``run.summary``: the run's headline values, as a mapping."""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from tracker_core._step import SummaryBuilder

__all__ = ["Summary"]


class Summary(MutableMapping[str, Any]):
    """Reads the live summary (last values or define_metric aggregates); writes are recorded at once.

    ``run.summary["best_epoch"] = 3`` overrides whatever the metrics say for that key.
    """

    def __init__(self, builder: Callable[[], SummaryBuilder],
                 on_set: Callable[[dict[str, Any]], None], on_unset: Callable[[list[str]], None]) -> None:
        self._builder = builder
        self._on_set = on_set
        self._on_unset = on_unset

    def _snapshot(self) -> dict[str, Any]:
        return self._builder().snapshot()

    def __getitem__(self, key: str) -> Any:
        return self._snapshot()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Set several keys in one record."""
        values = dict(other, **kwargs)
        if values:
            self._on_set(values)

    def __delitem__(self, key: str) -> None:
        if key not in self._snapshot():
            raise KeyError(key)
        self._on_unset([key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._snapshot())

    def __len__(self) -> int:
        return len(self._snapshot())

    def __repr__(self) -> str:
        return f"Summary({self._snapshot()!r})"

"""``Run.watch``: gradient/parameter statistics of torch models (``tracker_core._watch``) joined to the run's
next row, and non-finite gradients raised as alerts."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from tracker_core._errors import SettingsError

if TYPE_CHECKING:
    from tracker_core._records import RunRecords
    from tracker_core._rows import RowPath
    from tracker_core._run_alerts import AlertGlue

__all__ = ["WatchGlue"]


class WatchGlue:
    """The models a run watches; their statistics go to ``rows.pending``, their NaN/Inf to the alerts."""

    def __init__(self, records: RunRecords, rows: RowPath, alerts: AlertGlue) -> None:
        self._records = records
        self._rows = rows
        self._alerts = alerts
        self.watchers: list[tuple[weakref.ref[Any], Any]] = []  # (model, tracker_core._watch.Watcher)

    def watch(self, models: Any, log: str | None, log_freq: int, include: Any, exclude: Any, *,
              log_graph: bool = False, idx: int | None = None) -> None:
        """``Run.watch``: see there. All models are watched, or none.

        Raises:
            SettingsError: a bad argument, or a sharded model that cannot be watched correctly.
        """
        if self._records.inactive is not None:
            return
        from tracker_core._watch import Watcher, models_to_watch, prefixed

        watchers: list[tuple[weakref.ref[Any], Watcher]] = []
        try:
            for model, prefix in models_to_watch(models, log, log_graph, idx):
                watchers.append((weakref.ref(model), Watcher(model, log, log_freq, include, exclude,
                                 on_stats=prefixed(self._keep_stats, prefix),
                                 on_nonfinite=self._alerts.nonfinite)))
        except ValueError as exc:
            for _, watcher in watchers:
                watcher.remove()
            raise SettingsError("watch()", str(exc)) from None
        self.watchers.extend(watchers)

    def unwatch(self, model: Any = None) -> None:
        """Remove the hooks of ``watch`` (for ``model``, or for every watched model)."""
        for entry in list(self.watchers):
            watched = entry[0]()
            if model is None or watched is None or watched is model:
                entry[1].remove()
                self.watchers.remove(entry)

    def _keep_stats(self, stats: dict[str, Any]) -> None:
        self._rows.pending = {**(self._rows.pending or {}), **stats}  # per key, the newest counts (several models)

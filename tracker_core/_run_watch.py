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

    def watch(self, model: Any, log: str, log_freq: int, include: Any, exclude: Any) -> None:
        """``Run.watch``: see there.

        Raises:
            SettingsError: a bad argument, or a sharded model that cannot be watched correctly.
        """
        if self._records.inactive is not None:
            return
        from tracker_core._watch import Watcher

        try:
            watcher = Watcher(model, log, log_freq, include, exclude, on_stats=self._keep_stats,
                              on_nonfinite=self._alerts.nonfinite)
        except ValueError as exc:
            raise SettingsError("watch()", str(exc)) from None
        self.watchers.append((weakref.ref(model), watcher))

    def unwatch(self, model: Any = None) -> None:
        """Remove the hooks of ``watch`` (for ``model``, or for every watched model)."""
        for entry in list(self.watchers):
            watched = entry[0]()
            if model is None or watched is None or watched is model:
                entry[1].remove()
                self.watchers.remove(entry)

    def _keep_stats(self, stats: dict[str, Any]) -> None:
        self._rows.pending = stats  # replaced if the user logs nothing in between: the newest counts

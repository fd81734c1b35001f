"""A run's alerts: the user's ``alert()`` and the ones the tracker raises itself (plateaus, non-finite
gradients, a run that ended badly), handed to ``alerts._dispatch.RunAlerts`` with the run's step."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tracker_core._errors import TrackerError
from tracker_core.alerts._dispatch import RunAlerts, checked_alert
from tracker_core.alerts._level import AlertLevel

if TYPE_CHECKING:
    from tracker_core._notices import Notices
    from tracker_core._records import RunRecords
    from tracker_core._rows import RowPath
    from tracker_core._step import Stall

__all__ = ["AlertGlue"]


class AlertGlue:
    """Raises the run's alerts at the row path's current step; never raises but for bad arguments."""

    def __init__(self, records: RunRecords, notices: Notices, rows: RowPath) -> None:
        self._records = records
        self._notices = notices
        self._rows = rows
        run_dir = records.run_dir
        self._alerts = RunAlerts(records.append, self._origin, os.path.dirname(run_dir.path) if run_dir else None,
                                 f"tracker-alerts-{records.run_id}")

    def alert(self, title: str, text: str, level: AlertLevel | str, wait_duration: float | timedelta | None) -> None:
        """``Run.alert``: see there.

        Raises:
            SettingsError: a title or text that is not a string, an unknown level, a bad wait_duration.
        """
        title, text, checked_level, seconds = checked_alert(title, text, level, wait_duration)
        if self._records.inactive is not None:
            self._notices.inactive_call("alert", self._records.inactive)
            return
        try:
            self._alerts.raise_alert(title, text, checked_level, seconds, self._rows.step)
        except TrackerError:
            raise
        except Exception as exc:  # noqa: BLE001 - an alert must never kill training
            self._notices.internal_error("alert", exc)

    def library_alert(self, title: str, text: str, level: AlertLevel, source: str,
                      extra: dict[str, Any] | None = None, wait_duration: float = 60.0) -> None:
        """An alert the tracker raises itself; never raises."""
        try:
            self._alerts.raise_alert(title, text, level, wait_duration, self._rows.step, source, extra,
                                     background=True)
        except Exception as exc:  # noqa: BLE001 - an alert must never kill training
            self._notices.internal_error("alert", exc)

    def stalls(self, stalls: list[Stall]) -> None:
        """WARN alerts for metrics that stopped improving (``define_metric(..., alert_after=N)``)."""
        for stall in stalls:
            self.library_alert(f"{stall.key} has not improved",
                               f"{stall.key} has not improved for {stall.evaluations} evaluations: best "
                               f"{stall.best:g} at step {stall.best_step}, latest {stall.latest:g} at step "
                               f"{stall.step}.", AlertLevel.WARN, "metric")

    def nonfinite(self, names: list[str], backward_step: int) -> None:
        """An ERROR alert for NaN/Inf gradients found by ``watch``."""
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        self.library_alert("Non-finite gradients", f"NaN or Inf in the gradients of {shown} at backward pass "
                           f"{backward_step}", AlertLevel.ERROR, "watch", {"parameters": names}, wait_duration=600.0)

    def run_ended(self, status: str, exit_code: int, traceback_text: str | None, signal_name: str | None,
                  preempting: bool) -> None:
        """The alert for a run that ended other than ``finished``."""
        if traceback_text:
            cause = traceback_text.strip().splitlines()[-1]
        elif signal_name:
            cause = f"{signal_name}" + (" (preempted)" if preempting else "")
        else:
            cause = f"exit code {exit_code}"
        level = AlertLevel.ERROR if status == "failed" else AlertLevel.WARN
        name = self._records.name
        self.library_alert(f"Run {name} {status}", f"Run {name} ({self._records.path}) {status} at step "
                           f"{self._rows.step}: {cause}", level, "run", wait_duration=0.0)

    def flush(self, timeout: float) -> None:
        """Wait at most ``timeout`` seconds for alerts still being delivered."""
        self._alerts.flush(timeout)

    def _origin(self) -> dict[str, Any]:
        records = self._records
        return {"run_id": records.run_id, "run_name": records.name, "project": records.project,
                "run_dir": records.run_dir.path if records.run_dir else None, "host": records.meta.get("host")}

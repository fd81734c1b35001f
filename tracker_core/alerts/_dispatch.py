"""A run's alerts: checked, throttled by title (``wait_duration``), recorded in the run's log, and
handed to the sender for the targets of their level; delivery outcomes become later records."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracker_core._errors import SettingsError
from tracker_core.alerts._config import current
from tracker_core.alerts._level import AlertLevel, parse_level
from tracker_core.alerts._messages import Alert

if TYPE_CHECKING:
    from tracker_core.alerts._sender import AlertSender, Outcome
    from tracker_core.alerts._targets import Target

__all__ = ["DEFAULT_WAIT_DURATION", "RunAlerts", "checked_alert"]

DEFAULT_WAIT_DURATION = 60.0
"""Seconds within which an alert of the same title is not sent again, unless ``wait_duration`` says otherwise."""


def checked_alert(title: object, text: object, level: object, wait_duration: object) -> tuple[str, str, AlertLevel,
                                                                                                float]:
    """The arguments of ``alert()``, checked; ``wait_duration`` in seconds.

    Raises:
        SettingsError: a title or text that is not a string, an unknown level, a negative or non-numeric wait.
    """
    if not isinstance(title, str) or not title.strip():
        raise SettingsError("alert title", f"{title!r} is not a non-empty string", "pass title='Training plateau'")
    if not isinstance(text, str):
        raise SettingsError("alert text", f"{text!r} is not a string", "pass text='...'")
    if wait_duration is None:
        seconds = DEFAULT_WAIT_DURATION
    elif isinstance(wait_duration, datetime.timedelta):
        seconds = wait_duration.total_seconds()
    elif isinstance(wait_duration, (int, float)) and not isinstance(wait_duration, bool):
        seconds = float(wait_duration)
    else:
        seconds = -1.0
    if not seconds >= 0:
        raise SettingsError("wait_duration", f"{wait_duration!r} is not a duration",
                            "pass seconds >= 0 or a datetime.timedelta")
    return title, text, parse_level(level), seconds


class RunAlerts:
    """Raises a run's alerts. ``append(record, background)`` writes a record and returns its seq (0 if
    it was not written); ``origin()`` gives the run's id, name, project, folder and host; ``project_dir``
    is the project's folder in the store (its ``.alerts.json``), None for a run that writes nothing."""

    def __init__(self, append: Callable[[dict[str, Any], bool], int], origin: Callable[[], dict[str, Any]],
                 project_dir: str | None, thread_name: str) -> None:
        self._append = append
        self._project_dir = project_dir
        self._origin = origin
        self._thread_name = thread_name
        self._last_sent: dict[str, float] = {}
        self._lock = threading.Lock()
        self._sender: AlertSender | None = None

    def raise_alert(self, title: str, text: str, level: AlertLevel, wait_duration: float, step: int,
                    source: str = "user", extra: dict[str, Any] | None = None, background: bool = False) -> None:
        """Record the alert and queue it for delivery, unless its title was sent within ``wait_duration``
        (then it is recorded as suppressed). Returns at once."""
        delivery = current(self._project_dir)
        now = time.monotonic()
        with self._lock:
            last = self._last_sent.get(title)
            suppressed = last is not None and now - last < wait_duration
            if not suppressed:
                self._last_sent[title] = now
        record: dict[str, Any] = {"type": "alert", "level": str(level), "title": title, "text": text, "step": step,
                                  "source": source, "wait_duration": wait_duration, **(extra or {})}
        targets: tuple[Target, ...] = ()
        if suppressed and last is not None:
            record["suppressed"] = (f"the same title was sent {now - last:.0f} s earlier, within its "
                                    f"wait_duration of {wait_duration:g} s")
        else:
            targets = delivery.targets_for(level)
            record["targets"] = [target.name for target in targets]
        seq = self._append(record, background)
        if not seq or not targets:
            return
        with self._lock:  # alerts come from several threads (watch hooks, the sampler, the user's)
            if self._sender is None:
                from tracker_core.alerts._sender import AlertSender

                self._sender = AlertSender(self._report, self._thread_name)
        alert = Alert(seq=seq, title=title, text=text, level=level, step=step, time=time.time(), source=source,
                      **self._origin())
        self._sender.submit(alert, targets, delivery.policy)

    def _report(self, alert: Alert, target: Target, outcome: Outcome) -> None:
        record: dict[str, Any] = {"type": "alert_delivery", "alert": alert.seq, "target": target.name,
                                  "delivered": outcome.delivered, "attempts": outcome.attempts}
        if outcome.reason:
            record["reason"] = target.hide_secrets(outcome.reason)
        self._append(record, True)

    def flush(self, timeout: float) -> None:
        """Wait at most ``timeout`` seconds (capped by the delivery's ``flush_timeout``) for pending
        alerts; record those left as undelivered."""
        with self._lock:
            sender = self._sender
        if sender is not None:
            sender.flush(max(0.0, min(timeout, current(self._project_dir).policy.flush_timeout)))

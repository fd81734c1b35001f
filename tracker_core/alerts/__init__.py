"""Alerts: levels, delivery targets (Slack, generic webhook, email) and the process's configuration.

    from tracker_core.alerts import EmailTarget, SlackTarget, configure
    configure(SlackTarget("https://hooks.slack.com/services/...", min_level="WARN"),
              EmailTarget(["ml-team@example.com"], host="smtp.example.com", username="bot", password="..."))
    run.alert("Training plateau", "val/loss has not improved for 5 epochs", level="WARN")

Targets from TRACKER_ALERT_* variables are used as well. Importing this package imports neither
requests nor tenacity: the sender does, on its own thread, once an alert has a target.
"""

from tracker_core.alerts._config import configure
from tracker_core.alerts._level import AlertLevel
from tracker_core.alerts._records import StoredAlert
from tracker_core.alerts._targets import EmailTarget, SlackTarget, Target, WebhookTarget

__all__ = ["AlertLevel", "EmailTarget", "SlackTarget", "StoredAlert", "Target", "WebhookTarget", "configure"]

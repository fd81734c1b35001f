"""What an alert says on each channel: pure builders (alert -> Slack payload, JSON body, email)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from tracker_core.alerts._level import AlertLevel

if TYPE_CHECKING:
    from email.message import EmailMessage

__all__ = ["Alert", "email_message", "slack_payload", "webhook_payload"]

_SLACK_TEXT_LIMIT = 2900  # Slack refuses a section text over 3000 characters
_SLACK_ICONS = {AlertLevel.INFO: ":information_source:", AlertLevel.WARN: ":warning:",
                AlertLevel.ERROR: ":rotating_light:"}


class Alert(NamedTuple):
    """One alert as recorded in the run's log (``seq``), with where to find the run."""

    seq: int
    title: str
    text: str
    level: AlertLevel
    step: int
    time: float
    source: str  # "user", or what in the library raised it: "run", "watch", "metric"
    run_id: str
    run_name: str
    project: str
    run_dir: str | None
    host: str | None

    @property
    def run_path(self) -> str:
        return f"{self.project}/{self.run_id}"

    @property
    def where(self) -> str:
        """How to find the run: the command that shows it, and its folder."""
        folder = f"{self.host}:{self.run_dir}" if self.host else str(self.run_dir)
        return f"`tracker show {self.run_path}` (folder {folder})"

    def iso_time(self) -> str:
        return datetime.datetime.fromtimestamp(self.time, tz=datetime.UTC).isoformat(timespec="seconds")


def slack_payload(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook message: a plain ``text`` fallback and Block Kit blocks."""
    icon = _SLACK_ICONS[alert.level]
    heading = f"{icon} [{alert.level}] {alert.title}"[:_SLACK_TEXT_LIMIT]
    text = alert.text if len(alert.text) <= _SLACK_TEXT_LIMIT else alert.text[:_SLACK_TEXT_LIMIT] + "…"
    context = (f"run *{alert.run_name}* (`{alert.run_path}`) in project *{alert.project}*, step {alert.step}, "
               f"{alert.iso_time()}. Details: {alert.where}")
    return {
        "text": f"{heading}: {text}" if text else heading,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{heading}*"}},
            *([{"type": "section", "text": {"type": "plain_text", "text": text}}] if text else []),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }


def webhook_payload(alert: Alert) -> dict[str, Any]:
    """The generic webhook's JSON body."""
    return {
        "title": alert.title,
        "text": alert.text,
        "level": str(alert.level),
        "step": alert.step,
        "time": alert.time,
        "source": alert.source,
        "run": {"id": alert.run_id, "name": alert.run_name, "project": alert.project, "path": alert.run_path,
                "dir": alert.run_dir, "host": alert.host},
    }


def email_message(alert: Alert, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    """A plain-text email: the level and title in the subject, the run's whereabouts in the body."""
    from email.message import EmailMessage

    message = EmailMessage()
    subject = f"[tracker {alert.level}] {alert.title} ({alert.run_name})"
    message["Subject"] = " ".join(subject.split())  # a header holds no line break
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message.set_content(
        f"{alert.text}\n\n"
        f"Level:   {alert.level}\n"
        f"Run:     {alert.run_name} ({alert.run_path})\n"
        f"Project: {alert.project}\n"
        f"Step:    {alert.step}\n"
        f"Time:    {alert.iso_time()}\n"
        f"Details: {alert.where}\n")
    return message

"""Alert delivery for this process: targets set in code (``configure``) plus those of the project's
settings, and the retry bounds. Each setting comes from a ``configure`` argument, else its TRACKER_ALERT_*
variable, else the project's file ``<root>/<project>/.alerts.json``, else its default.

``configure`` checks everything before changing anything; ``tracker_core.init`` re-reads the variables
and the project's file (``refresh``), so a bad one fails there, with a hint.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from tracker_core._errors import SettingsError
from tracker_core.alerts._level import AlertLevel
from tracker_core.alerts._targets import EmailTarget, SlackTarget, Target, WebhookTarget, checked_url

if TYPE_CHECKING:
    from tracker_core._settings import AlertSettings

__all__ = ["Delivery", "RetryPolicy", "configure", "current", "refresh"]


class RetryPolicy(NamedTuple):
    """Bounds on delivery: attempts per alert and target, waits between them, and the end-of-run flush."""

    attempts: int
    backoff: float
    max_backoff: float
    timeout: float
    flush_timeout: float


class Delivery(NamedTuple):
    """The targets alerts go to, and how hard to try."""

    targets: tuple[Target, ...]
    policy: RetryPolicy

    def targets_for(self, level: AlertLevel) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.accepts(level))


PROJECT_FILE = ".alerts.json"
"""A project's alert settings: the AlertSettings names as keys, e.g. {"slack_webhook": "...", "slack_level": "WARN"}."""

_lock = threading.Lock()
_code_targets: tuple[Target, ...] = ()
_code_options: dict[str, float | None] = {}
_current: dict[str | None, Delivery] = {}  # project folder (None: none) -> its delivery


def configure(*targets: Target, attempts: int | None = None, backoff: float | None = None,
              max_backoff: float | None = None, timeout: float | None = None,
              flush_timeout: float | None = None) -> None:
    """Send this process's alerts to ``targets`` (replacing those set by an earlier call), in addition
    to the targets of the TRACKER_ALERT_* variables and of the run's project file. Options left as None
    fall back to their variable, then to the project file, then to their default (see the README's
    settings tables). Applies to runs already started too.

    Raises:
        SettingsError: something that is not a target, a bad option, a bad TRACKER_ALERT_* variable or
            project file of a started run, or the ``alerts`` extra (requests, tenacity) missing.
    """
    global _code_targets, _code_options
    for target in targets:
        if not isinstance(target, Target):
            raise SettingsError("alert target", f"{type(target).__name__} is not a target",
                                "pass SlackTarget(...), WebhookTarget(...) or EmailTarget(...)")
    options = {"attempts": attempts, "backoff": backoff, "max_backoff": max_backoff, "timeout": timeout,
               "flush_timeout": flush_timeout}
    with _lock:
        projects = {None, *_current}  # the projects of runs already started, checked now rather than mid-run
    deliveries = {project: _resolve(targets, options, project) for project in projects}
    with _lock:
        _code_targets, _code_options = tuple(targets), options
        _current.clear()
        _current.update(deliveries)


def refresh(project_dir: str | None) -> Delivery:
    """Re-read the TRACKER_ALERT_* variables and the project's file, on top of what ``configure`` set.

    Raises:
        SettingsError: a bad variable or file, or the ``alerts`` extra missing while a target is configured.
    """
    with _lock:
        targets, options = _code_targets, _code_options
    delivery = _resolve(targets, options, project_dir)
    with _lock:
        _current[project_dir] = delivery
    return delivery


def current(project_dir: str | None) -> Delivery:
    """The delivery in force for runs of this project folder (resolved once, then after each
    ``configure``/``refresh``)."""
    delivery = _current.get(project_dir)
    return delivery if delivery is not None else refresh(project_dir)


def _resolve(targets: Iterable[Target], options: dict[str, float | None], project_dir: str | None) -> Delivery:
    from tracker_core._settings import ALERT_ENV_VARS, AlertSettings, resolve

    arguments = _project_settings(project_dir) if project_dir else {}
    arguments = {k: v for k, v in arguments.items() if not os.environ.get(ALERT_ENV_VARS[k])}  # a variable wins
    arguments.update((k, v) for k, v in options.items() if v is not None)  # an argument wins over both
    settings = resolve(AlertSettings, arguments)
    everything = (*targets, *_settings_targets(settings, project_dir))
    if everything:
        _require_packages(everything)
    return Delivery(everything, RetryPolicy(settings.attempts, settings.backoff, settings.max_backoff,
                                            settings.timeout, settings.flush_timeout))


def _project_settings(project_dir: str) -> dict[str, Any]:
    """The project file's settings, checked on their own so that an error names the file."""
    from tracker_core._settings import AlertSettings, resolve

    path = os.path.join(project_dir, PROJECT_FILE)
    hint = 'write a JSON object such as {"slack_webhook": "https://hooks.slack.com/...", "slack_level": "WARN"}'
    try:
        with open(path, "rb") as handle:
            values = json.loads(handle.read())
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError(path, f"cannot be read: {exc.strerror}", "check its permissions") from None
    except ValueError as exc:
        raise SettingsError(path, f"is not JSON ({exc})", hint) from None
    if not isinstance(values, Mapping):
        raise SettingsError(path, "is not a JSON object", hint)
    try:
        resolve(AlertSettings, values, environ={})
    except SettingsError as exc:
        raise SettingsError(f"{exc.name.replace(' (from argument)', '')} in {path}", exc.problem, exc.hint) from None
    return dict(values)


def _settings_targets(settings: AlertSettings, project_dir: str | None) -> list[Target]:
    """The targets of the resolved settings; errors name the variable or file (never a URL)."""
    def source(variable: str) -> str:
        return variable if os.environ.get(variable) or not project_dir else \
            f"{variable} or {os.path.join(project_dir, PROJECT_FILE)}"

    targets: list[Target] = []
    if settings.slack_webhook:
        targets.append(SlackTarget(checked_url(settings.slack_webhook, source("TRACKER_ALERT_SLACK_WEBHOOK")),
                                   settings.slack_level))
    if settings.webhook:
        targets.append(WebhookTarget(checked_url(settings.webhook, source("TRACKER_ALERT_WEBHOOK")),
                                     settings.webhook_level))
    if bool(settings.smtp_host) != bool(settings.email_to):
        missing = "TRACKER_ALERT_EMAIL_TO" if settings.smtp_host else "TRACKER_ALERT_SMTP_HOST"
        raise SettingsError(source(missing), "is not set, but email alerts are half configured",
                            "set both TRACKER_ALERT_SMTP_HOST and TRACKER_ALERT_EMAIL_TO (smtp_host and email_to "
                            "in a project file), or neither")
    if settings.smtp_host:
        targets.append(EmailTarget(settings.email_to, host=settings.smtp_host, port=settings.smtp_port,
                                   sender=settings.email_from, username=settings.smtp_user,
                                   password=settings.smtp_password, starttls=settings.smtp_starttls,
                                   min_level=settings.email_level))
    return targets


def _require_packages(targets: tuple[Target, ...]) -> None:
    needed = ["tenacity"] + (["requests"] if any(not isinstance(t, EmailTarget) for t in targets) else [])
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise SettingsError("alert targets", f"delivery needs {' and '.join(missing)}, which is not installed",
                            "pip install 'tracker[alerts]'")

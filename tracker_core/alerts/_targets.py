"""Where alerts go: a Slack incoming webhook, a generic JSON webhook, email over SMTP.

Each target checks its configuration when it is built (``SettingsError`` with a hint, never
echoing a secret), describes itself without secrets (``name``, ``repr``), and sends one alert
per ``send`` call, raising ``DeliveryError`` on failure. ``send`` runs on the sender thread
only: requests is imported there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tracker_core._errors import SettingsError
from tracker_core._retry_after import retry_after
from tracker_core.alerts._level import AlertLevel, parse_level

if TYPE_CHECKING:
    import ssl

    from tracker_core.alerts._messages import Alert

__all__ = ["DeliveryError", "EmailTarget", "SlackTarget", "Target", "WebhookTarget", "checked_url"]

_HIDDEN = "<hidden>"
_EMAIL = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+$")


class DeliveryError(Exception):
    """One attempt failed. ``retry``: worth another attempt; ``retry_after``: the server's wish, in seconds."""

    def __init__(self, reason: str, retry: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry, self.retry_after = reason, retry, retry_after


class Target:
    """Base of the delivery targets: a minimum level, a name without secrets, ``send``."""

    kind = "target"

    def __init__(self, min_level: AlertLevel | str) -> None:
        self.min_level = parse_level(min_level, f"{self.kind} min_level")

    def accepts(self, level: AlertLevel) -> bool:
        return level.rank >= self.min_level.rank

    @property
    def name(self) -> str:
        """What the run's log and ``tracker show`` call this target; holds no secret."""
        raise NotImplementedError

    def secrets(self) -> tuple[str, ...]:
        """Strings that must never be written anywhere (cut out of failure reasons)."""
        return ()

    def send(self, alert: Alert, timeout: float) -> None:
        """Deliver one alert.

        Raises:
            DeliveryError: this attempt failed (with whether to retry).
        """
        raise NotImplementedError

    def hide_secrets(self, text: str) -> str:
        for secret in sorted(self.secrets(), key=len, reverse=True):
            text = text.replace(secret, _HIDDEN)
        return text

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} min_level={self.min_level}>"


def checked_url(url: object, what: str) -> str:
    """``url`` if it is an http(s) URL with a host; the error never shows the URL (it may hold a token)."""
    problem = None
    if not isinstance(url, str):
        problem = f"a {type(url).__name__}, not a URL string"
    else:
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            parts, host = None, None
        if parts is None or parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in url):
            problem = "not an http(s) URL with a host (the value is not shown: it may hold a secret)"
    if problem:
        raise SettingsError(what, problem, "pass the full http(s) URL, e.g. https://hooks.slack.com/services/T0/B0/X")
    return str(url)


class _HttpTarget(Target):
    def __init__(self, url: object, min_level: AlertLevel | str, headers: Mapping[str, str] | None,
                 what: str) -> None:
        super().__init__(min_level)
        self._url = checked_url(url, what)
        if headers is not None and not (isinstance(headers, Mapping) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items())):
            raise SettingsError(f"{self.kind} headers", "not a mapping of strings to strings",
                                "pass e.g. headers={'Authorization': 'Bearer ...'}")
        self._headers = dict(headers or {})

    @property
    def name(self) -> str:
        return f"{self.kind} {urlsplit(self._url).hostname}"

    def secrets(self) -> tuple[str, ...]:
        parts = urlsplit(self._url)
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        return tuple(s for s in (self._url, tail, parts.path, parts.query, *self._headers.values()) if len(s) > 3)

    def _payload(self, alert: Alert) -> dict[str, Any]:
        raise NotImplementedError

    def send(self, alert: Alert, timeout: float) -> None:
        import requests  # type: ignore[import-untyped,unused-ignore]

        try:
            response = requests.post(self._url, json=self._payload(alert), headers=self._headers or None,
                                     timeout=timeout, allow_redirects=False)
        except requests.Timeout:
            raise DeliveryError(f"no answer within {timeout:g} s", retry=True) from None
        except requests.ConnectionError as exc:
            raise DeliveryError(f"could not connect ({_root_cause(exc)})", retry=True) from None
        except requests.RequestException as exc:
            raise DeliveryError(type(exc).__name__, retry=False) from None
        status = int(response.status_code)
        if 200 <= status < 300:
            return
        body = " ".join(response.text.split())[:120]
        retry = status in (408, 429) or status >= 500
        raise DeliveryError(self.hide_secrets(f"HTTP {status}" + (f" {body!r}" if body else "")), retry=retry,
                            retry_after=retry_after(response.headers.get("Retry-After")) if retry else None)


class SlackTarget(_HttpTarget):
    """A Slack incoming webhook (``https://hooks.slack.com/services/...``): title, text, level, the run's
    name, project, step and where to find it.

    Raises:
        SettingsError: not an http(s) URL, or an unknown level.
    """

    kind = "slack"

    def __init__(self, webhook_url: str, min_level: AlertLevel | str = AlertLevel.INFO) -> None:
        super().__init__(webhook_url, min_level, None, "Slack webhook_url")

    def _payload(self, alert: Alert) -> dict[str, Any]:
        from tracker_core.alerts._messages import slack_payload

        return slack_payload(alert)


class WebhookTarget(_HttpTarget):
    """A generic webhook: the alert and its run as a JSON body (POST), with optional extra ``headers``
    (their values are treated as secrets).

    Raises:
        SettingsError: not an http(s) URL, bad headers, or an unknown level.
    """

    kind = "webhook"

    def __init__(self, url: str, min_level: AlertLevel | str = AlertLevel.INFO,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(url, min_level, headers, "webhook url")

    def _payload(self, alert: Alert) -> dict[str, Any]:
        from tracker_core.alerts._messages import webhook_payload

        return webhook_payload(alert)


class EmailTarget(Target):
    """Email over SMTP: STARTTLS (on by default; ``ssl_context`` to trust a private CA) and login
    when ``username`` is given.

    Raises:
        SettingsError: no recipient or a malformed address, a bad port, login without STARTTLS to a
            remote server, or an unknown level.
    """

    kind = "email"

    def __init__(self, to: str | Sequence[str], *, host: str, port: int = 587, sender: str | None = None,
                 username: str | None = None, password: str | None = None, starttls: bool = True,
                 ssl_context: ssl.SSLContext | None = None, min_level: AlertLevel | str = AlertLevel.INFO) -> None:
        super().__init__(min_level)
        recipients = (to,) if isinstance(to, str) else tuple(to)
        if not recipients or not all(isinstance(r, str) and _EMAIL.match(r) for r in recipients):
            raise SettingsError("email to", f"{to!r} is not a list of email addresses",
                                "pass to=['ml-team@example.com'] (TRACKER_ALERT_EMAIL_TO: comma-separated)")
        if not isinstance(host, str) or not host or any(c.isspace() for c in host):
            raise SettingsError("email host", f"{host!r} is not a host name", "pass host='smtp.example.com'")
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise SettingsError("email port", f"{port!r} is not a port", "pass port=587 (STARTTLS) or 25")
        if not sender:
            import socket

            sender = username if username and _EMAIL.match(username) else f"tracker@{socket.gethostname()}"
        if not _EMAIL.match(sender):
            raise SettingsError("email sender", f"{sender!r} is not an email address", "pass sender='me@example.com'")
        if password and not username:
            raise SettingsError("email password", "given without a username", "pass username= too")
        if username and not starttls and not _is_loopback(host):
            raise SettingsError("email starttls", "login without STARTTLS would send the password in clear",
                                "keep starttls=True (TRACKER_ALERT_SMTP_STARTTLS=true)")
        self.recipients, self.host, self.port, self.sender = recipients, host, port, sender
        self._username, self._password, self._starttls, self._ssl_context = username, password, starttls, ssl_context

    @property
    def name(self) -> str:
        return f"email {', '.join(self.recipients)}"

    def secrets(self) -> tuple[str, ...]:
        return (self._password,) if self._password and len(self._password) > 3 else ()

    def send(self, alert: Alert, timeout: float) -> None:
        import smtplib
        import ssl

        from tracker_core.alerts._messages import email_message

        message = email_message(alert, self.sender, self.recipients)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=timeout) as smtp:
                if self._starttls:
                    smtp.starttls(context=self._ssl_context or ssl.create_default_context())
                if self._username:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(message)
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError("the server does not offer STARTTLS (or login)", retry=False) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"login refused (SMTP {exc.smtp_code})", retry=False) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.smtp_code}", retry=400 <= exc.smtp_code < 500) from None
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryError("every recipient was refused", retry=False) from None
        except ssl.SSLError as exc:
            raise DeliveryError(self.hide_secrets(f"TLS failed ({exc.reason or exc})"), retry=False) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(self.hide_secrets(f"{type(exc).__name__}: {exc}"), retry=True) from None


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _root_cause(exc: BaseException) -> str:
    """The innermost OS error's text (e.g. 'Connection refused'), else the exception's class name."""
    seen: BaseException | None = exc
    found = type(exc).__name__
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            found = seen.strerror
        seen = seen.__cause__ or seen.__context__
    return found

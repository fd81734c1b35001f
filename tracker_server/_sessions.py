"""Browser sessions: an API key signs a browser in; the browser then holds an HttpOnly, SameSite=Strict
cookie that resolves to the same ``Identity`` as the key (the identity layer is unchanged).

Sessions live in the database (``browser_sessions``), so every worker of every machine accepts them.
The cookie holds 256 random bits; the database stores only their HMAC under the server's secret. A
session is bound to the key that opened it: revoking the key ends the session at the next request.

CSRF: every state-changing request made with a session cookie must carry the session's CSRF token in
``X-CSRF-Token`` (also readable by the page from the ``tracker_csrf`` cookie: double submit, checked
against the database) and, when the browser sends one, an ``Origin`` equal to the server's own;
``Sec-Fetch-Site: cross-site`` is refused outright. Requests with ``Authorization: Bearer`` need none
of this: a browser never attaches that header cross-site on its own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Float, ForeignKey, LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from tracker_server._errors import ApiError
from tracker_server._identity import Identity
from tracker_server._models import ApiKey, Base, Membership, Team, User

__all__ = [
    "COOKIE",
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "BrowserSession",
    "check_origin",
    "clear_cookies",
    "end_session",
    "open_session",
    "session_identity",
    "set_cookies",
]

COOKIE = "tracker_session"
CSRF_COOKIE = "tracker_csrf"
CSRF_HEADER = "x-csrf-token"
LIFETIME = 14 * 24 * 3600.0  # seconds a session lasts without use
_SAFE = ("GET", "HEAD", "OPTIONS")


class BrowserSession(Base):
    __tablename__ = "browser_sessions"
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    user_agent: Mapped[str] = mapped_column(String(256))


def _hash(secret: bytes, token: str) -> bytes:
    return hmac.new(secret, b"session:" + token.encode(), hashlib.sha256).digest()


def open_session(session: Session, secret: bytes, key_id: int, user_agent: str) -> tuple[str, str]:
    """A new session for the key ``key_id``; returns (cookie token, CSRF token). Old expired sessions are dropped."""
    now = time.time()
    session.execute(delete(BrowserSession).where(BrowserSession.expires_at < now))
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(BrowserSession(token_hash=_hash(secret, token), key_id=key_id, csrf=csrf, created_at=now,
                               expires_at=now + LIFETIME, user_agent=user_agent[:256]))
    return token, csrf


def end_session(session: Session, secret: bytes, token: str) -> None:
    session.execute(delete(BrowserSession).where(BrowserSession.token_hash == _hash(secret, token)))


def check_origin(request: Request) -> None:
    """Raises ApiError 403 for a request a browser marks as cross-site, or whose Origin is another site."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise ApiError(403, "csrf", "cross-site requests cannot act with a browser session")
    origin = request.headers.get("origin")
    if origin is not None:
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if origin != own:
            raise ApiError(403, "csrf", f"requests from {origin} cannot act with a browser session of {own}")


def session_identity(request: Request) -> Identity | None:
    """The identity of the request's session cookie, or None when it has none.

    Raises:
        ApiError: 401 for an unknown, expired or revoked session; 403 for a state-changing request without
            the session's CSRF token or from another origin.
    """
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    state: Any = request.app.state.server
    with state.db.read() as session:
        rows = session.execute(
            select(User.id, User.name, ApiKey.name, BrowserSession.csrf, BrowserSession.expires_at, Team.name,
                   Team.id, Membership.role)
            .join(ApiKey, ApiKey.id == BrowserSession.key_id)
            .join(User, User.id == ApiKey.user_id)
            .outerjoin(Membership, Membership.user_id == User.id)
            .outerjoin(Team, Team.id == Membership.team_id)
            .where(BrowserSession.token_hash == _hash(state.secret, token), ApiKey.revoked_at.is_(None))).all()
    if not rows or rows[0][4] < time.time():
        raise ApiError(401, "unauthorized", "this browser session is unknown, expired or revoked; sign in again")
    if request.method not in _SAFE:
        check_origin(request)
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), rows[0][3].encode()):
            raise ApiError(403, "csrf", f"a state-changing request with a browser session needs its {CSRF_HEADER} "
                           "header")
    user_id, user, key_name = rows[0][0], rows[0][1], rows[0][2]
    return Identity(user_id, user, f"session:{key_name}",
                    {team: (team_id, role) for *_, team, team_id, role in rows if team is not None})


def set_cookies(response: Response, request: Request, token: str, csrf: str) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(COOKIE, token, max_age=int(LIFETIME), httponly=True, samesite="strict", secure=secure,
                        path="/")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=int(LIFETIME), httponly=False, samesite="strict", secure=secure,
                        path="/")


def clear_cookies(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")

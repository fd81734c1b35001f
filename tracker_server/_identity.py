"""Who is asking: API keys, their keyed hashes, and the teams and roles of their user.

A key is ``trk_`` and 43 url-safe characters (256 random bits). The database stores only
HMAC-SHA256(secret, key): keys are random, so a fast keyed hash is enough (no password KDF),
and one indexed lookup per request authenticates. The secret is generated on first start and
kept in the database's ``server_secrets`` table, where every worker and machine reads it.
Revoking a key sets ``revoked_at``; the next request with it is refused, since nothing is cached.
An ``Identity`` names a user, so a browser session (a cookie) can later resolve to the same one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from tracker_server._models import ApiKey, Membership, ServerSecret, Team, User

__all__ = ["ROLES", "Identity", "authenticate", "create_key", "ensure_secret", "list_keys", "revoke_key"]

ROLES = ("viewer", "member", "admin")
_PREFIX = "trk_"
_SECRET_NAME = "api_key_hmac"  # noqa: S105  # the name of the row, not a secret


@dataclass(frozen=True)
class Identity:
    user_id: int
    user: str
    credential: str  # the key's name (a session would name itself here)
    teams: dict[str, tuple[int, str]] = field(default_factory=dict)  # team name -> (team id, role)


def ensure_secret(session: Session) -> bytes:
    """The HMAC secret, created on first use (inside the caller's write transaction)."""
    found = session.get(ServerSecret, _SECRET_NAME)
    if found is not None:
        return found.value
    value = secrets.token_bytes(32)
    session.add(ServerSecret(name=_SECRET_NAME, value=value))
    session.flush()
    return value


def _hash(secret: bytes, key: str) -> bytes:
    return hmac.new(secret, key.encode(), hashlib.sha256).digest()


_LOOKUP = text(
    "SELECT u.id, u.name, k.name, t.name, t.id, m.role FROM api_keys k JOIN users u ON u.id = k.user_id"
    " LEFT JOIN memberships m ON m.user_id = u.id LEFT JOIN teams t ON t.id = m.team_id"
    " WHERE k.key_hash = :key_hash AND k.revoked_at IS NULL")  # plain SQL: a fifth of the ORM query's cost


def authenticate(connection: Connection, secret: bytes, key: str) -> Identity | None:
    """The identity of a valid, unrevoked key, else None (one indexed query)."""
    if not key.startswith(_PREFIX) or len(key) > 128:
        return None
    rows = connection.execute(_LOOKUP, {"key_hash": _hash(secret, key)}).all()
    if not rows:
        return None
    user_id, user, key_name = rows[0][0], rows[0][1], rows[0][2]
    return Identity(user_id, user, key_name,
                    {team: (team_id, role) for *_, team, team_id, role in rows if team is not None})


def _get_or_create(session: Session, model: type[Team] | type[User], name: str) -> Team | User:
    found = cast("Team | User | None", session.scalars(select(model).where(model.name == name)).first())
    if found is None:
        found = model(name=name, created_at=time.time())
        session.add(found)
        session.flush()
    return found


def create_key(session: Session, team: str, name: str, role: str = "member", user: str | None = None) -> str:
    """A new key for ``user`` (default: a user named like the key) in ``team`` with ``role``; teams and users
    are created on demand, and an existing membership takes the given role. Returns the key (shown once).

    Raises:
        ValueError: an unknown role or an empty name.
    """
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not team or not name:
        raise ValueError("a team and a key name are needed")
    secret = ensure_secret(session)
    team_row = _get_or_create(session, Team, team)
    user_row = _get_or_create(session, User, user or name)
    membership = session.get(Membership, (user_row.id, team_row.id))
    if membership is None:
        session.add(Membership(user_id=user_row.id, team_id=team_row.id, role=role))
    else:
        membership.role = role
    key = _PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(user_id=user_row.id, name=name, key_hash=_hash(secret, key), prefix=key[:10],
                       created_at=time.time()))
    return key


def list_keys(session: Session, team: str | None = None) -> list[dict[str, object]]:
    """Every key (of ``team``'s users when given): id, name, user, prefix, teams, created and revoked times."""
    query = select(ApiKey, User.name).join(User, User.id == ApiKey.user_id).order_by(ApiKey.id)
    listed = []
    for key, user in session.execute(query).all():
        teams = dict(session.execute(select(Team.name, Membership.role).join(Membership, Membership.team_id == Team.id)
                                     .where(Membership.user_id == key.user_id)).tuples().all())
        if team is not None and team not in teams:
            continue
        listed.append({"id": key.id, "name": key.name, "user": user, "prefix": key.prefix, "teams": teams,
                       "created_at": key.created_at, "revoked_at": key.revoked_at})
    return listed


def revoke_key(session: Session, key_id: int | None = None, name: str | None = None) -> int:
    """Revoke keys by id or by name; returns how many were revoked (effective at the next request)."""
    query = select(ApiKey).where(ApiKey.revoked_at.is_(None))
    query = query.where(ApiKey.id == key_id) if key_id is not None else query.where(ApiKey.name == name)
    found = session.scalars(query).all()
    for key in found:
        key.revoked_at = time.time()
    return len(found)

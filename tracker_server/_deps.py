"""What every route depends on: the server's state, the caller's identity and its team scope.

Each router takes ``Depends(reader)`` or ``Depends(writer)`` (or ``Depends(identity)``), so no
route can forget authentication, and a test can enumerate them all from the route table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker_server._blobs import BlobStore
from tracker_server._config import ServerConfig
from tracker_server._database import Database
from tracker_server._errors import ApiError, not_found
from tracker_server._identity import Identity, authenticate
from tracker_server._models import Project, Run
from tracker_server._sessions import session_identity

__all__ = ["JSONResponse", "Scope", "ServerState", "find_project", "find_run", "identity", "json_response", "reader",
           "server", "team_scope", "writer"]

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PROJECT = re.compile(r"^[^./\\\x00][^/\\\x00]{0,127}$")
_WRITE_ROLES = ("member", "admin")


@dataclass
class ServerState:
    config: ServerConfig
    db: Database
    blobs: BlobStore
    secret: bytes
    schema: str
    local_reports: str | None = None  # tracker ui: the local store whose .reports folder holds the reports
    local_team: str | None = None  # tracker ui: the one team its reports belong to


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS), status_code=status,
                    media_type="application/json")


def server(request: Request) -> ServerState:
    return request.app.state.server  # type: ignore[no-any-return]


def identity(request: Request) -> Identity:
    """The caller, from ``Authorization: Bearer <key>``, else from a browser session cookie.

    Raises:
        ApiError: 401 without a key, or with an unknown or revoked one; 403 for a session's write without CSRF token.
    """
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        from_cookie = session_identity(request)  # a signed-in browser (CSRF-checked on writes)
        if from_cookie is not None:
            return from_cookie
        raise ApiError(401, "unauthorized", "an API key is needed: Authorization: Bearer <key>")
    state = server(request)
    with state.db.reader.connect() as connection:
        found = authenticate(connection, state.secret, key.strip())
    if found is None:
        raise ApiError(401, "unauthorized", "this API key is unknown or revoked")
    return found


@dataclass(frozen=True)
class Scope:
    """A request inside one team: who asks, the team, and the caller's role in it."""

    identity: Identity
    team: str
    team_id: int
    role: str


def _scope(entity: str, caller: Identity) -> Scope:
    membership = caller.teams.get(entity)
    if membership is None:  # another team's entity answers like one that does not exist
        raise not_found(f"entity {entity!r}")
    return Scope(caller, entity, membership[0], membership[1])


def team_scope(entity: str, caller: Identity, write: bool = False) -> Scope:
    """The caller's scope in team ``entity``: 404 for a team it is not in, 403 for a viewer's write."""
    return writer(entity, caller) if write else _scope(entity, caller)


def reader(entity: str, caller: Annotated[Identity, Depends(identity)]) -> Scope:
    """Any member of the path's team (viewer and up); others get 404."""
    return _scope(entity, caller)


def writer(entity: str, caller: Annotated[Identity, Depends(identity)]) -> Scope:
    """A member or admin of the path's team; a viewer gets 403, others 404."""
    scope = _scope(entity, caller)
    if scope.role not in _WRITE_ROLES:
        raise ApiError(403, "forbidden", f"a {scope.role} of {entity!r} cannot write; a member or admin can")
    return scope


def check_names(project: str, run_id: str | None = None) -> None:
    """Raises ApiError 400 for a project or run id that a store could not hold."""
    if not _PROJECT.match(project):
        raise ApiError(400, "invalid_name", f"project {project!r} is not a valid name")
    if run_id is not None and not _RUN_ID.match(run_id):
        raise ApiError(400, "invalid_name", f"run id {run_id!r} is not valid (letters, digits, _.-; at most 64)")


def find_project(session: Session, scope: Scope, project: str) -> Project:
    found = session.scalars(select(Project).where(Project.team_id == scope.team_id, Project.name == project)).first()
    if found is None:
        raise not_found(f"project {scope.team}/{project}")
    return found


def find_run(session: Session, scope: Scope, project: str, run_id: str, for_update: bool = False) -> Run:
    """The run, locked for the transaction when ``for_update`` (PostgreSQL; SQLite writers are serialised).

    Raises:
        ApiError: 404 for a run that does not exist in the team (the same answer for another team's).
    """
    query = (select(Run).join(Project, Project.id == Run.project_id)
             .where(Project.team_id == scope.team_id, Project.name == project, Run.run_id == run_id))
    if for_update:
        query = query.with_for_update(of=Run)
    found = session.scalars(query).first()
    if found is None:
        raise not_found(f"run {scope.team}/{project}/{run_id}")
    return found

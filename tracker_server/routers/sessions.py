"""Browser sign-in: an API key opens a session cookie; sign-out closes it.

These routes are the browser's, not the API's: they are left out of the OpenAPI spec (sign-in is the
one write that needs no prior credential; it takes the key in its body).
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from tracker_server._deps import ServerState, identity, json_response, server
from tracker_server._errors import ApiError
from tracker_server._identity import Identity, _hash
from tracker_server._models import ApiKey
from tracker_server._sessions import (
    COOKIE,
    CSRF_COOKIE,
    check_origin,
    clear_cookies,
    end_session,
    open_session,
    set_cookies,
)

__all__ = ["router", "sign_in_with_key_id"]

router = APIRouter(prefix="/api/v1/session", tags=["browser"], include_in_schema=False)


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=256)


def sign_in_with_key_id(state: ServerState, request: Request, response: Response, key_id: int) -> str:
    """Open a session for key ``key_id`` and set its cookies on ``response``; returns the CSRF token."""
    with state.db.write() as session:
        token, csrf = open_session(session, state.secret, key_id, request.headers.get("user-agent", ""))
    set_cookies(response, request, token, csrf)
    return csrf


@router.post("", summary="Sign a browser in with an API key")
def sign_in(body: SignIn, request: Request, state: Annotated[ServerState, Depends(server)]) -> Response:
    """Raises ApiError 401 for an unknown or revoked key, 403 for a cross-site sign-in (login CSRF)."""
    check_origin(request)
    with state.db.read() as session:
        key_id = session.scalars(select(ApiKey.id).where(ApiKey.key_hash == _hash(state.secret, body.key.strip()),
                                                         ApiKey.revoked_at.is_(None))).first()
    if key_id is None:
        raise ApiError(401, "unauthorized", "this API key is unknown or revoked")
    response = json_response({"ok": True})
    csrf = sign_in_with_key_id(state, request, response, key_id)
    response.body = json_response({"ok": True, "csrf": csrf}).body
    response.headers["content-length"] = str(len(response.body))
    return response


@router.get("", summary="The signed-in browser's user, teams and CSRF token")
def current(request: Request, caller: Annotated[Identity, Depends(identity)]) -> Response:
    return json_response({"user": caller.user, "credential": caller.credential,
                          "csrf": request.cookies.get(CSRF_COOKIE),
                          "teams": [{"name": n, "role": r} for n, (_, r) in sorted(caller.teams.items())],
                          "time": time.time()})


@router.delete("", summary="Sign out")
def sign_out(request: Request, caller: Annotated[Identity, Depends(identity)],
             state: Annotated[ServerState, Depends(server)]) -> Response:
    token = request.cookies.get(COOKIE)
    if token:
        with state.db.write() as session:
            end_session(session, state.secret, token)
    response = json_response({"ok": True})
    clear_cookies(response)
    return response

"""Blobs by sha256, per team: which ones the server lacks, upload (verified), download."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tracker_server._deps import Scope, ServerState, json_response, reader, server, writer
from tracker_server._errors import ApiError, not_found
from tracker_server._file_response import INERT_HEADERS
from tracker_server._models import Blob

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/blobs", tags=["blobs"])
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_Digest = Field(pattern=r"^[0-9a-f]{64}$")


class MissingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    digests: list[Annotated[str, _Digest]] = Field(max_length=100_000)


class Missing(BaseModel):
    missing: list[str]


class Stored(BaseModel):
    sha256: str
    size: int
    created: bool = Field(description="true when the team did not hold this blob before")


def _check(digest: str) -> None:
    if not _DIGEST.match(digest):
        raise ApiError(400, "invalid_digest", f"{digest!r} is not a sha256 hex digest (64 lowercase hex digits)")


@router.post("/{entity}/missing", response_model=Missing, summary="Which of these blobs the team lacks")
def missing(entity: str, body: MissingQuery, scope: Annotated[Scope, Depends(writer)],
            state: Annotated[ServerState, Depends(server)]) -> Response:
    wanted = list(dict.fromkeys(body.digests))
    held: set[str] = set()
    with state.db.read() as session:
        for start in range(0, len(wanted), 500):
            held.update(session.scalars(select(Blob.digest).where(Blob.team_id == scope.team_id,
                                                                  Blob.digest.in_(wanted[start:start + 500]))))
    return json_response({"missing": [digest for digest in wanted if digest not in held]})


def _record(state: ServerState, scope: Scope, digest: str, size: int, path: str) -> bool:
    if not state.blobs.exists(digest):
        state.blobs.put_file(digest, path)
    try:
        with state.db.write() as session:
            if session.get(Blob, (scope.team_id, digest)) is not None:
                return False
            session.add(Blob(team_id=scope.team_id, digest=digest, size=size, created_at=time.time()))
            return True
    except IntegrityError:  # the same blob uploaded twice at once
        return False


_BLOB_BODY = {"requestBody": {"required": True, "content": {"application/octet-stream": {
    "schema": {"type": "string", "format": "binary"}}}}}


@router.put("/{entity}/{sha256}", response_model=Stored, status_code=201, summary="Upload a blob",
            openapi_extra=_BLOB_BODY, responses={200: {"model": Stored, "description": "the team held it already"}})
async def put_blob(entity: str, sha256: str, request: Request, scope: Annotated[Scope, Depends(writer)],
                   state: Annotated[ServerState, Depends(server)]) -> Response:
    """The body's sha256 must equal the path's (400 ``digest_mismatch`` otherwise, nothing stored)."""
    _check(sha256)
    limit = state.config.max_blob_bytes
    folder = os.path.join(os.path.abspath(state.config.data), "tmp")
    os.makedirs(folder, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=folder, delete=False)  # noqa: SIM115  # moved into the store below
    try:
        hasher, size = hashlib.sha256(), 0
        with handle:
            async for part in request.stream():
                size += len(part)
                if size > limit:
                    raise ApiError(413, "too_large", f"the blob is over {limit} bytes", limit_bytes=limit)
                hasher.update(part)
                handle.write(part)
        if hasher.hexdigest() != sha256:
            raise ApiError(400, "digest_mismatch", f"the body's sha256 is {hasher.hexdigest()}, not {sha256}",
                           sha256=hasher.hexdigest())
        created = await run_in_threadpool(_record, state, scope, sha256, size, handle.name)
    finally:
        if os.path.exists(handle.name):
            os.unlink(handle.name)
    return json_response({"sha256": sha256, "size": size, "created": created}, 201 if created else 200)


@router.get("/{entity}/{sha256}", summary="Download a blob", response_class=StreamingResponse)
def get_blob(entity: str, sha256: str, scope: Annotated[Scope, Depends(reader)],
             state: Annotated[ServerState, Depends(server)]) -> Response:
    """The bytes (the client verifies them against the digest)."""
    _check(sha256)
    with state.db.read() as session:
        found = session.get(Blob, (scope.team_id, sha256))
        if found is None:
            raise not_found(f"blob {sha256}")
        size = found.size
    return StreamingResponse(state.blobs.iter_bytes(sha256), media_type="application/octet-stream",
                             headers={"Content-Length": str(size), "X-Content-SHA256": sha256, **INERT_HEADERS})

"""Ingest: create a run, learn its acknowledged seq, post its records, map its files to blobs."""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tracker_server._body import read_body
from tracker_server._deps import Scope, ServerState, check_names, find_run, json_response, reader, server, writer
from tracker_server._errors import ApiError, not_found
from tracker_server._file_response import stored_file
from tracker_server._ingest import _save_fold, apply_batch, load_fold, new_run, parse_batch, refresh_meta
from tracker_server._models import Blob, Project, Run, RunFile

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["ingest"])
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class Acked(BaseModel):
    acked_seq: int = Field(description="the highest seq such that every record up to it is stored")


class RunPut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meta: dict[str, Any] = Field(default_factory=dict, description="the run's run.json")


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class FilesPut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    files: dict[str, FileEntry]


class FilesList(BaseModel):
    files: dict[str, FileEntry]


def _put_run(state: ServerState, scope: Scope, project: str, run_id: str, meta: dict[str, Any]) -> int:
    for attempt in range(3):  # two servers creating the same project or run at once: the loser retries
        try:
            with state.db.write() as session:
                found = session.scalars(select(Project).where(Project.team_id == scope.team_id,
                                                              Project.name == project)).first()
                now = time.time()
                if found is None:
                    found = Project(team_id=scope.team_id, name=project, created_at=now, last_activity=now)
                    session.add(found)
                    session.flush()
                run = session.scalars(select(Run).where(Run.project_id == found.id, Run.run_id == run_id)
                                      .with_for_update()).first()
                run, fold = new_run(session, found.id, run_id, now) if run is None else (run, load_fold(session, run))
                fold.sent_meta = meta
                refresh_meta(run, fold)
                _save_fold(run, fold)
                found.last_activity = now
                return run.last_seq
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@router.put("/runs/{entity}/{project}/{run_id}", response_model=Acked, summary="Create or update a run")
def put_run(entity: str, project: str, run_id: str, body: RunPut, scope: Annotated[Scope, Depends(writer)],
            state: Annotated[ServerState, Depends(server)]) -> Response:
    """Creates the run (and its project) if new; records its run.json. Answers the acknowledged seq."""
    check_names(project, run_id)
    return json_response({"acked_seq": _put_run(state, scope, project, run_id, body.meta)})


@router.get("/runs/{entity}/{project}/{run_id}/acked", response_model=Acked, summary="The acknowledged seq")
def get_acked(entity: str, project: str, run_id: str, scope: Annotated[Scope, Depends(reader)],
              state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.db.read() as session:
        return json_response({"acked_seq": find_run(session, scope, project, run_id).last_seq})


def _ingest(state: ServerState, scope: Scope, project: str, run_id: str, body: bytes) -> int:
    batch = parse_batch(body)
    with state.db.write() as session:
        run = find_run(session, scope, project, run_id, for_update=True)
        acked = apply_batch(session, run, batch)
        if batch:
            session.execute(update(Project).where(Project.id == run.project_id).values(last_activity=time.time()))
        return acked


_RECORDS_BODY = {"requestBody": {"required": True, "content": {"application/x-ndjson": {"schema": {
    "type": "string", "description": "events.jsonl lines, each a JSON record with seq, t and type"}}}}}


@router.post("/runs/{entity}/{project}/{run_id}/records", response_model=Acked, summary="Append records",
             openapi_extra=_RECORDS_BODY,
             responses={409: {"description": "seq gap: {error: seq_gap, acked_seq}"},
                        413: {"description": "too large: {error: too_large, limit_bytes}"}})
async def post_records(entity: str, project: str, run_id: str, request: Request,
                       scope: Annotated[Scope, Depends(writer)],
                       state: Annotated[ServerState, Depends(server)]) -> Response:
    """Stores the records after the acknowledged seq, exactly once; a gap is refused (409), nothing half-stored."""
    body = await read_body(request, state.config.max_batch_bytes)
    acked = await run_in_threadpool(_ingest, state, scope, project, run_id, body)
    return json_response({"acked_seq": acked})


def _check_path(path: str) -> None:
    parts = path.split("/")
    if (not path or path.startswith("/") or "\\" in path or "\x00" in path or len(path) > 1024
            or any(part in ("", ".", "..") for part in parts)):
        raise ApiError(400, "invalid_path", f"file path {path!r} must be relative, without '..', '.', empty parts "
                       "or backslashes")


@router.put("/runs/{entity}/{project}/{run_id}/files", response_model=FilesList, summary="Map run files to blobs",
            responses={409: {"description": "{error: missing_blobs, missing: [...]}"}})
def put_files(entity: str, project: str, run_id: str, body: FilesPut, scope: Annotated[Scope, Depends(writer)],
              state: Annotated[ServerState, Depends(server)]) -> Response:
    """Each path names a blob the team already holds; unknown digests are refused (409) and nothing is mapped."""
    for path in body.files:
        _check_path(path)
    with state.db.write() as session:
        run = find_run(session, scope, project, run_id, for_update=True)
        digests = sorted({entry.sha256 for entry in body.files.values()})
        held = set(session.scalars(select(Blob.digest).where(Blob.team_id == scope.team_id,
                                                            Blob.digest.in_(digests))))
        missing = [digest for digest in digests if digest not in held]
        if missing:
            raise ApiError(409, "missing_blobs", f"{len(missing)} blob(s) not uploaded yet", missing=missing)
        paths = list(body.files)
        for start in range(0, len(paths), 500):
            session.execute(delete(RunFile).where(RunFile.run_pk == run.id, RunFile.path.in_(paths[start:start + 500])))
        if paths:
            session.execute(insert(RunFile), [{"run_pk": run.id, "path": path, "digest": entry.sha256,
                                               "size": entry.size} for path, entry in body.files.items()])
        run.updated_at = time.time()
        return json_response({"files": _files(session, run.id)})


def _files(session: Any, run_pk: int) -> dict[str, dict[str, Any]]:
    return {f.path: {"sha256": f.digest, "size": f.size}
            for f in session.scalars(select(RunFile).where(RunFile.run_pk == run_pk).order_by(RunFile.path))}


@router.get("/runs/{entity}/{project}/{run_id}/files", response_model=FilesList, summary="A run's files")
def get_files(entity: str, project: str, run_id: str, scope: Annotated[Scope, Depends(reader)],
              state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.db.read() as session:
        return json_response({"files": _files(session, find_run(session, scope, project, run_id).id)})


@router.get("/runs/{entity}/{project}/{run_id}/files/{path:path}", summary="A run file's bytes",
            response_class=StreamingResponse)
def get_file(entity: str, project: str, run_id: str, path: str, scope: Annotated[Scope, Depends(reader)],
             state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.db.read() as session:
        run = find_run(session, scope, project, run_id)
        found = session.get(RunFile, (run.id, path))
        if found is None:
            raise not_found(f"file {path!r}")
        digest, size = found.digest, found.size
    return stored_file(state.blobs.iter_bytes(digest), path, size, digest)


"""Reports: list, create, read and save (refusing a stale base revision, keeping both texts), revisions,
diffs and restore, pins, panel data, comments and share links; and the routes a share token opens without an
account (that report, its panels' data and the images those show; nothing else)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker_core.reports._store import REPORT_ID, LocalReports, ReportNotFoundError, StaleRevisionError
from tracker_server._deps import Scope, ServerState, check_names, identity, json_response, server, team_scope
from tracker_server._errors import ApiError, not_found
from tracker_server._file_response import stored_file
from tracker_server._identity import Identity
from tracker_server._models import ReportRow, RunFile, Team
from tracker_server._report_store import LocalStoreReports, ReportStore, SqlReports, shared_report
from tracker_server._reports import blocks_of, diff, image_refs, new_text, panel_data, pinned_text, title_of

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["reports"])
_TEXT = 5_000_000
_SHARE_CALLER = Identity(0, "(share link)", "share")


class ReportPost(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project: str = Field(min_length=3, max_length=257, description="ENTITY/PROJECT")
    title: str | None = Field(None, max_length=1000, description="default: the front matter's title")
    markdown: str | None = Field(None, max_length=_TEXT, description="the report file's text, stored as given")
    blocks: list[dict[str, Any]] | None = Field(None, max_length=10_000)
    id: str | None = Field(None, pattern=REPORT_ID.pattern, description="the id to create it under (a report "
                           "pushed from a file or a local store keeps its id); default: a new random one")


class ReportPut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_revision: int = Field(ge=0, description="the revision the edit started from")
    title: str | None = Field(None, max_length=1000)
    markdown: str | None = Field(None, max_length=_TEXT)
    blocks: list[dict[str, Any]] | None = Field(None, max_length=10_000)


class RestorePost(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revision: int = Field(ge=1)
    base_revision: int = Field(ge=0)


class CommentPost(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=20_000)
    block: int | None = Field(None, ge=0)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _local(state: ServerState, scope: Scope) -> ReportStore:
    assert state.local_reports is not None
    return LocalStoreReports(LocalReports(state.local_reports), scope)


@contextmanager
def _session(state: ServerState, write: bool) -> Iterator[Session]:
    try:
        with (state.db.write() if write else state.db.read()) as session:
            yield session
    except ReportNotFoundError as error:
        raise not_found(str(error).removeprefix("no such ")) from None


def _open(state: ServerState, session: Session, caller: Identity, report_id: str, write: bool
          ) -> tuple[ReportStore, Scope]:
    """The store holding ``report_id`` and the caller's scope in its team (404 for another team's)."""
    if state.local_reports is not None:
        scope = team_scope(state.local_team or "", caller, write)
        return _local(state, scope), scope
    team_id = session.scalar(select(ReportRow.team_id).where(ReportRow.report_id == report_id))
    team = next((name for name, (tid, _) in caller.teams.items() if tid == team_id), None)
    if team is None:
        raise not_found(f"report {report_id!r}")
    scope = team_scope(team, caller, write)
    return SqlReports(session, scope), scope


def _entity(project: str) -> tuple[str, str]:
    entity, _, name = project.rpartition("/")
    if not entity:
        raise ApiError(400, "invalid_name", f"project {project!r} must be ENTITY/PROJECT")
    check_names(name)
    return entity, name


@router.get("/reports", summary="Reports of a project (of every team of the caller without one), latest first")
def list_reports(caller: Annotated[Identity, Depends(identity)], state: Annotated[ServerState, Depends(server)],
                 project: Annotated[str | None, Query(description="ENTITY/PROJECT")] = None) -> Response:
    with _session(state, False) as session:
        if state.local_reports is not None:
            scope = team_scope(state.local_team or "", caller)
            return json_response({"reports": _local(state, scope).reports(project)})
        if project is not None:
            entity, _ = _entity(project)
            return json_response({"reports": SqlReports(session, team_scope(entity, caller)).reports(project)})
        found = [r for team in sorted(caller.teams) for r in SqlReports(session, team_scope(team, caller)).reports()]
        return json_response({"reports": found})


@router.post("/reports", status_code=201, summary="Create a report (revision 1)")
def post_report(body: ReportPost, request: Request, caller: Annotated[Identity, Depends(identity)],
                state: Annotated[ServerState, Depends(server)]) -> Response:
    entity, name = _entity(body.project)
    written = body.project  # the front matter's project: a local store's reports name theirs without a team
    if state.local_reports is not None:
        entity, written = state.local_team or entity, name
    scope = team_scope(entity, caller, True)
    if body.markdown is not None and body.blocks is not None:
        raise ApiError(400, "invalid_request", "send markdown or blocks, not both")
    title = body.title or (title_of(body.markdown) if body.markdown is not None else None)
    if not title:
        raise ApiError(400, "invalid_request", "a report needs a title (the body's, or the front matter's)")
    text = new_text("", title, body.markdown, body.blocks or [], written)
    try:
        with _session(state, True) as session:
            store = _local(state, scope) if state.local_reports is not None else SqlReports(session, scope)
            created = store.create(body.project, title, text, caller.user, body.id)
    except IntegrityError:  # the same id created twice at once
        raise ApiError(409, "report_exists", f"report id {body.id!r} is taken; leave `id` out for a new one") from None
    report_id = created["id"]
    return json_response({"id": report_id, "revision": created["revision"], "url": _url(request, report_id)}, 201)


def _url(request: Request, report_id: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/reports/{report_id}"


@router.get("/reports/{report_id}", summary="A report: its fields, Markdown text and blocks")
def get_report(report_id: str, caller: Annotated[Identity, Depends(identity)],
               state: Annotated[ServerState, Depends(server)]) -> Response:
    with _session(state, False) as session:
        store, _ = _open(state, session, caller, report_id, False)
        found = store.get(report_id)
    return json_response({**found, "blocks": blocks_of(found["markdown"])})


def _save(state: ServerState, caller: Identity, report_id: str, base: int | None, change: Any) -> Response:
    """Store ``change(current report, session, scope) -> (title, text)`` as a new revision on ``base`` (the
    current revision when None); a stale base is kept as a conflict revision and answered 409."""
    stale: StaleRevisionError | None = None
    with _session(state, True) as session:
        store, scope = _open(state, session, caller, report_id, True)
        current = store.get(report_id)
        title, text = change(current, session, scope)
        try:
            revision = store.save(report_id, current["revision"] if base is None else base, title, text, caller.user)
        except StaleRevisionError as error:
            stale = error  # committed with the block: the refused text is a conflict revision
    if stale is not None:
        raise ApiError(409, "stale_revision", f"the report is at revision {stale.current_revision}, not the one this "
                       f"edit started from; your text is kept as revision {stale.conflict_revision}: reload, "
                       "merge and save again", details={"current_revision": stale.current_revision,
                                                       "conflict_revision": stale.conflict_revision})
    return json_response({"revision": revision})


@router.put("/reports/{report_id}", summary="Save a new revision (409 stale_revision on an old base_revision)")
def put_report(report_id: str, body: ReportPut, caller: Annotated[Identity, Depends(identity)],
               state: Annotated[ServerState, Depends(server)]) -> Response:
    if body.markdown is not None and body.blocks is not None:
        raise ApiError(400, "invalid_request", "send markdown or blocks, not both")

    def change(current: dict[str, Any], session: Session, scope: Scope) -> tuple[str, str]:
        text = new_text(current["markdown"], body.title if body.markdown is None else None, body.markdown,
                        body.blocks)
        title = body.title or (title_of(body.markdown) if body.markdown is not None else None) or current["title"]
        return title, text

    return _save(state, caller, report_id, body.base_revision, change)


@router.get("/reports/{report_id}/revisions", summary="Every revision, oldest first (conflict: a refused save)")
def revisions(report_id: str, caller: Annotated[Identity, Depends(identity)],
              state: Annotated[ServerState, Depends(server)]) -> Response:
    with _session(state, False) as session:
        store, _ = _open(state, session, caller, report_id, False)
        return json_response({"revisions": store.revisions(report_id)})


@router.get("/reports/{report_id}/revisions/{number}", summary="One revision's text and blocks")
def revision(report_id: str, number: int, caller: Annotated[Identity, Depends(identity)],
             state: Annotated[ServerState, Depends(server)]) -> Response:
    with _session(state, False) as session:
        store, _ = _open(state, session, caller, report_id, False)
        found = store.revision(report_id, number)
    return json_response({**found, "blocks": blocks_of(found["markdown"])})


@router.get("/reports/{report_id}/diff", summary="A unified diff of two revisions' Markdown")
def get_diff(report_id: str, caller: Annotated[Identity, Depends(identity)],
             state: Annotated[ServerState, Depends(server)], from_: Annotated[int, Query(alias="from", ge=1)],
             to: Annotated[int, Query(ge=1)]) -> Response:
    with _session(state, False) as session:
        store, _ = _open(state, session, caller, report_id, False)
        a, b = store.revision(report_id, from_), store.revision(report_id, to)
    return json_response({"from": from_, "to": to, "diff": diff(a["markdown"], b["markdown"], from_, to)})


@router.post("/reports/{report_id}/restore", summary="A new revision with an earlier revision's text")
def restore(report_id: str, body: RestorePost, caller: Annotated[Identity, Depends(identity)],
            state: Annotated[ServerState, Depends(server)]) -> Response:
    def change(current: dict[str, Any], session: Session, scope: Scope) -> tuple[str, str]:
        old = _open(state, session, caller, report_id, True)[0].revision(report_id, body.revision)
        return old["title"], old["markdown"]

    return _save(state, caller, report_id, body.base_revision, change)


def _panel(blocks: list[dict[str, Any]], index: int) -> dict[str, Any]:
    if not 0 <= index < len(blocks):
        raise not_found(f"block {index} (the report has {len(blocks)})")
    if blocks[index]["kind"] != "panel":
        raise ApiError(400, "not_a_panel", f"block {index} is Markdown text, not a panel")
    spec: dict[str, Any] = blocks[index]["spec"]
    return spec


def _run_file_url(team: str) -> Any:
    return lambda project, run_id, path: f"/api/v1/runs/{team}/{project}/{run_id}/files/{path}"


@router.get("/reports/{report_id}/blocks/{index}/data", summary="A panel's data (its snapshot when pinned)")
def block_data(report_id: str, index: int, caller: Annotated[Identity, Depends(identity)],
               state: Annotated[ServerState, Depends(server)]) -> Response:
    with _session(state, False) as session:
        store, scope = _open(state, session, caller, report_id, False)
        found = store.get(report_id)
        spec = _panel(blocks_of(found["markdown"]), index)
        return json_response(panel_data(session, scope, found["project"], spec, _run_file_url(scope.team)))


def _pin(state: ServerState, caller: Identity, report_id: str, index: int | None, pin: bool) -> Response:
    def change(current: dict[str, Any], session: Session, scope: Scope) -> tuple[str, str]:
        blocks = blocks_of(current["markdown"])
        indexes = [i for i, b in enumerate(blocks) if b["kind"] == "panel"] if index is None else [index]
        snapshots = {}
        for i in indexes:
            spec = _panel(blocks, i)
            snapshots[i] = panel_data(session, scope, current["project"], spec, _run_file_url(scope.team),
                                      live=True) if pin else None
        return current["title"], pinned_text(current["markdown"], indexes, snapshots)

    return _save(state, caller, report_id, None, change)


@router.post("/reports/{report_id}/blocks/{index}/pin", summary="Pin a panel to a snapshot of its data now")
def pin_block(report_id: str, index: int, caller: Annotated[Identity, Depends(identity)],
              state: Annotated[ServerState, Depends(server)]) -> Response:
    return _pin(state, caller, report_id, index, True)


@router.delete("/reports/{report_id}/blocks/{index}/pin", summary="Unpin a panel (live again)")
def unpin_block(report_id: str, index: int, caller: Annotated[Identity, Depends(identity)],
                state: Annotated[ServerState, Depends(server)]) -> Response:
    return _pin(state, caller, report_id, index, False)


@router.post("/reports/{report_id}/pin", summary="Pin every panel of the report")
def pin_all(report_id: str, caller: Annotated[Identity, Depends(identity)],
            state: Annotated[ServerState, Depends(server)]) -> Response:
    return _pin(state, caller, report_id, None, True)


@router.get("/reports/{report_id}/comments", summary="Comments on the report and its blocks, oldest first")
def comments(report_id: str, caller: Annotated[Identity, Depends(identity)],
             state: Annotated[ServerState, Depends(server)]) -> Response:
    with _session(state, False) as session:
        store, _ = _open(state, session, caller, report_id, False)
        return json_response({"comments": store.comments(report_id)})


@router.post("/reports/{report_id}/comments", status_code=201, summary="Comment on the report or one block")
def post_comment(report_id: str, body: CommentPost, caller: Annotated[Identity, Depends(identity)],
                 state: Annotated[ServerState, Depends(server)]) -> Response:
    with _session(state, True) as session:
        store, _ = _open(state, session, caller, report_id, True)
        if body.block is not None:
            count = len(blocks_of(store.get(report_id)["markdown"]))
            if body.block >= count:
                raise ApiError(400, "invalid_request", f"block {body.block}: the report has {count} blocks")
        return json_response(store.add_comment(report_id, body.block, body.text, caller.user), 201)


@router.post("/reports/{report_id}/shares", status_code=201, summary="A new read-only share link (token shown once)")
def post_share(report_id: str, request: Request, caller: Annotated[Identity, Depends(identity)],
               state: Annotated[ServerState, Depends(server)]) -> Response:
    token = secrets.token_urlsafe(32)
    with _session(state, True) as session:
        store, _ = _open(state, session, caller, report_id, True)
        share = store.add_share(report_id, _hash(token), caller.user)
    return json_response({**share, "token": token, "url": f"{str(request.base_url).rstrip('/')}/shared/{token}"},
                         201)


@router.get("/reports/{report_id}/shares", summary="The report's live share links (ids; tokens are not kept)")
def shares(report_id: str, caller: Annotated[Identity, Depends(identity)],
           state: Annotated[ServerState, Depends(server)]) -> Response:
    with _session(state, False) as session:
        store, _ = _open(state, session, caller, report_id, False)
        return json_response({"shares": store.shares(report_id)})


@router.delete("/reports/{report_id}/shares/{share}", status_code=204,
               summary="Revoke a share link (by its token, or the id the listing shows)")
def delete_share(report_id: str, share: str, caller: Annotated[Identity, Depends(identity)],
                 state: Annotated[ServerState, Depends(server)]) -> Response:
    with _session(state, True) as session:
        store, _ = _open(state, session, caller, report_id, True)
        ids = [share, _hash(share)[:16]] if len(share) == 16 else [_hash(share)[:16]]
        if not any(store.revoke_share(report_id, share_id) for share_id in ids):
            raise not_found("share link of this report")
    return Response(status_code=204)


def _shared(state: ServerState, session: Session, token: str) -> tuple[dict[str, Any], Scope]:
    """The report a live share token opens and its team's read scope; 404 for any other token."""
    token_hash = _hash(token)
    if state.local_reports is not None:
        report_id = LocalReports(state.local_reports).shared(token_hash)
        team_id = session.scalar(select(Team.id).where(Team.name == state.local_team))
        if report_id is None or team_id is None:
            raise not_found("shared report")
        scope = Scope(_SHARE_CALLER, state.local_team or "", team_id, "viewer")
        return _local(state, scope).get(report_id), scope
    found = shared_report(session, token_hash)
    if found is None:
        raise not_found("shared report")
    report_id, team_id = found
    team = session.scalar(select(Team.name).where(Team.id == team_id)) or ""
    scope = Scope(_SHARE_CALLER, team, team_id, "viewer")
    return SqlReports(session, scope).get(report_id), scope


@router.get("/shared/{token}", summary="A shared report (no account: the token is the credential)")
def get_shared(token: str, state: Annotated[ServerState, Depends(server)]) -> Response:
    with _session(state, False) as session:
        found, _ = _shared(state, session, token)
    return json_response({"title": found["title"], "project": found["project"], "revision": found["revision"],
                          "markdown": found["markdown"], "blocks": blocks_of(found["markdown"])})


@router.get("/shared/{token}/blocks/{index}/data", summary="A shared report's panel data")
def shared_block_data(token: str, index: int, state: Annotated[ServerState, Depends(server)]) -> Response:
    with _session(state, False) as session:
        found, scope = _shared(state, session, token)
        spec = _panel(blocks_of(found["markdown"]), index)
        url = lambda project, run_id, path: f"/api/v1/shared/{token}/files/{project}/{run_id}/{path}"  # noqa: E731
        return json_response(panel_data(session, scope, found["project"], spec, url))


@router.get("/shared/{token}/files/{project}/{run_id}/{path:path}", response_class=StreamingResponse,
            summary="An image a shared report's image panel shows (nothing else)")
def shared_file(token: str, project: str, run_id: str, path: str, state: Annotated[ServerState, Depends(server)]
                ) -> Response:
    from tracker_server._models import Project, Run

    with _session(state, False) as session:
        found, scope = _shared(state, session, token)
        if (project, run_id, path) not in image_refs(session, scope, found["project"], blocks_of(found["markdown"])):
            raise not_found(f"file {path!r} in this shared report")
        row = session.execute(select(RunFile.digest, RunFile.size).join(Run, Run.id == RunFile.run_pk)
                              .join(Project, Project.id == Run.project_id)
                              .where(Project.team_id == scope.team_id, Project.name == project, Run.run_id == run_id,
                                     RunFile.path == path)).first()
        if row is None:
            raise not_found(f"file {path!r} in this shared report")
        digest, size = row
    return stored_file(state.blobs.iter_bytes(digest), path, size, digest)

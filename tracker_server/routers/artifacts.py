"""Artifacts: collections and versions of a project, one version (manifest, aliases, producer, consumers),
``name:alias`` / ``name:vN`` resolution, alias moves, version registration and the lineage graph."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tracker_server._artifacts import (
    check_name,
    collection_json,
    find_collection,
    lineage,
    register_version,
    resolve,
    set_alias,
    version_json,
)
from tracker_server._deps import (
    Scope,
    ServerState,
    check_names,
    find_project,
    find_run,
    json_response,
    reader,
    server,
    writer,
)
from tracker_server._models import ArtifactCollection, ArtifactVersionRow

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/artifact-collections", tags=["artifacts"])


class ManifestEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, max_length=1024)
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    size: int | None = Field(None, ge=0, le=1 << 53)
    ref: str | None = Field(None, max_length=4096, description="a reference's URI (its content is not stored)")


class VersionPost(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=128)
    digest: str = Field(pattern=r"^[0-9a-f]{64}$", description="the manifest's digest, as the client's store has it")
    files: list[ManifestEntry] = Field(max_length=100_000)
    metadata: dict[str, Any] = Field(default_factory=dict)
    description: str | None = Field(None, max_length=65536)
    aliases: list[str] = Field(default_factory=list, max_length=100)
    run_id: str | None = Field(None, description="the run that logged it (its producer)")


class AliasPut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=0, le=(1 << 31) - 1)


class RunRef(BaseModel):
    id: str
    entity: str
    project: str
    name: str
    state: str


class VersionOut(BaseModel):
    entity: str
    project: str
    name: str
    type: str
    version: int
    ref: str
    digest: str
    aliases: list[str]
    size: int
    file_count: int
    description: str | None
    metadata: dict[str, Any]
    created_at: float
    created_by: RunRef | None
    used_by: list[RunRef]
    files: list[ManifestEntry] | None = None


class CollectionOut(BaseModel):
    name: str
    type: str
    versions: int
    latest: int | None
    created_at: float


class Collections(BaseModel):
    collections: list[CollectionOut]


class Versions(BaseModel):
    collection: CollectionOut
    versions: list[VersionOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null on the last page")


class Node(BaseModel):
    id: str
    kind: str = Field(description="run or artifact")
    model_config = ConfigDict(extra="allow")


class Edge(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: str = Field(alias="from")
    to: str


class Lineage(BaseModel):
    root: str | None
    nodes: list[Node]
    edges: list[Edge]


@router.get("/{entity}/{project}", response_model=Collections, summary="A project's artifact collections")
def collections(entity: str, project: str, scope: Annotated[Scope, Depends(reader)],
                state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.db.read() as session:
        found = find_project(session, scope, project)
        rows = session.scalars(select(ArtifactCollection).where(ArtifactCollection.project_id == found.id)
                               .order_by(ArtifactCollection.name)).all()
        return json_response({"collections": [collection_json(session, row) for row in rows]})


@router.get("/{entity}/{project}/{name}", response_model=Versions,
            summary="The versions of an artifact, oldest first, a page at a time")
def versions(entity: str, project: str, name: str, scope: Annotated[Scope, Depends(reader)],
             state: Annotated[ServerState, Depends(server)],
             after: Annotated[int, Query(ge=-1, description="only versions above this one")] = -1,
             limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> Response:
    with state.db.read() as session:
        collection = find_collection(session, find_project(session, scope, project), scope, check_name(name))
        rows = session.scalars(select(ArtifactVersionRow)
                               .where(ArtifactVersionRow.collection_id == collection.id,
                                      ArtifactVersionRow.version > after)
                               .order_by(ArtifactVersionRow.version).limit(limit + 1)).all()
        page = rows[:limit]
        return json_response({"collection": collection_json(session, collection),
                              "versions": [version_json(session, collection, row, scope.team, project, False)
                                           for row in page],
                              "next_after": page[-1].version if len(rows) > limit else None})


@router.post("/{entity}/{project}/{name}", response_model=VersionOut, summary="Register a version (by manifest)",
             responses={409: {"description": "a blob is missing (listed in `missing`) or the type differs"},
                        422: {"description": "the digest is not the manifest's"}})
def post_version(entity: str, project: str, name: str, body: VersionPost, scope: Annotated[Scope, Depends(writer)],
                 state: Annotated[ServerState, Depends(server)]) -> Response:
    """Every stored file's blob must be held by the team (upload the ones ``POST /api/v1/blobs/{entity}/missing``
    names first); the same digest again is the same version. ``aliases`` move to it."""
    check_names(project, body.run_id)
    files = [entry.model_dump() for entry in body.files]
    for attempt in range(2):
        try:
            with state.db.write() as session:
                found = find_project(session, scope, project)
                run = find_run(session, scope, project, body.run_id) if body.run_id else None
                version = register_version(session, scope, found, name, body.type, body.digest, files,
                                           body.metadata, body.description, body.aliases, run)
                collection = session.get_one(ArtifactCollection, version.collection_id)
                return json_response(version_json(session, collection, version, scope.team, project))
        except IntegrityError:  # another writer created the name (or that version) at the same moment
            if attempt:
                raise
    raise AssertionError("unreachable")


@router.get("/{entity}/{project}/{name}/{selector}", response_model=VersionOut,
            summary="One version (vN, latest or an alias): files, aliases, metadata, producer and consumers")
def get_version(entity: str, project: str, name: str, selector: str, scope: Annotated[Scope, Depends(reader)],
                state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.db.read() as session:
        collection = find_collection(session, find_project(session, scope, project), scope, check_name(name))
        return json_response(version_json(session, collection, resolve(session, collection, selector), scope.team,
                                          project))


@router.put("/{entity}/{project}/{name}/aliases/{alias}", response_model=VersionOut,
            summary="Point an alias at a version (moving it from another)")
def put_alias(entity: str, project: str, name: str, alias: str, body: AliasPut,
              scope: Annotated[Scope, Depends(writer)], state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.db.write() as session:
        collection = find_collection(session, find_project(session, scope, project), scope, check_name(name))
        version = set_alias(session, collection, alias, body.version)
        return json_response(version_json(session, collection, version, scope.team, project))


@router.get("/{entity}/{project}/{name}/{selector}/lineage", response_model=Lineage,
            summary="The lineage graph around a version: producer and consumer runs, and their versions")
def get_lineage(entity: str, project: str, name: str, selector: str, scope: Annotated[Scope, Depends(reader)],
                state: Annotated[ServerState, Depends(server)],
                depth: Annotated[int, Query(ge=1, le=20, description="hops each way")] = 4) -> Response:
    with state.db.read() as session:
        collection = find_collection(session, find_project(session, scope, project), scope, check_name(name))
        return json_response(lineage(session, resolve(session, collection, selector), scope.team, depth))

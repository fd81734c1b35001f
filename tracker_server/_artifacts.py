"""Artifacts on the server: collections of versions per project, aliases, usage, and the lineage graph.

A version is registered only once every blob its manifest names is held by the team (each
content uploaded once per team through the blob routes), and only with the digest the client's
store computes for that manifest, so a download can check both. Version numbers are the
server's: the same digest registered again is the same version (aliases move to it); other
content becomes the next ``vN``. Usage comes from the runs' own ``artifact`` records at ingest.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker_core.artifacts import ArtifactError
from tracker_core.artifacts._manifest import check_layout, manifest_digest
from tracker_core.artifacts._names import normalize_path, validate_alias, validate_name, version_number
from tracker_server._deps import Scope
from tracker_server._errors import ApiError, not_found
from tracker_server._models import (
    ArtifactAlias,
    ArtifactCollection,
    ArtifactUsage,
    ArtifactVersionRow,
    Blob,
    Project,
    Record,
    Run,
    Team,
)

__all__ = ["collection_json", "find_collection", "index_artifact_records", "lineage", "register_version",
           "resolve", "set_alias", "version_json"]

MAX_FILES = 100_000


def _bad(error: ArtifactError, what: str) -> ApiError:
    return ApiError(400, "invalid_artifact", f"{what}: {error}")


def check_name(name: str) -> str:
    try:
        return validate_name(name)
    except ArtifactError as error:
        raise _bad(error, "artifact name") from None


def find_collection(session: Session, project: Project, scope: Scope, name: str) -> ArtifactCollection:
    found = session.scalars(select(ArtifactCollection).where(ArtifactCollection.project_id == project.id,
                                                             ArtifactCollection.name == name)).first()
    if found is None:
        raise not_found(f"artifact {scope.team}/{project.name}/{name}")
    return found


def _manifest(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries as the client's store holds them (stored files and references), paths checked.

    Raises:
        ApiError: 400 for a path with ``..``, an absolute one, a file that is also a folder, or too many files.
    """
    if len(files) > MAX_FILES:
        raise ApiError(413, "too_large", f"a manifest holds at most {MAX_FILES} files", limit_files=MAX_FILES)
    entries = []
    try:
        for raw in files:
            entry = {"path": normalize_path(raw["path"]), "sha256": raw["sha256"], "size": raw["size"]}
            if raw.get("ref") is not None:
                entry["ref"] = raw["ref"]
            elif entry["sha256"] is None or entry["size"] is None:
                raise ApiError(400, "invalid_manifest", f"{entry['path']!r} has no sha256 or size")
            if entry["path"] != raw["path"]:
                raise ApiError(400, "invalid_manifest", f"path {raw['path']!r} is not in canonical form")
            entries.append(entry)
        check_layout([entry["path"] for entry in entries])
    except ArtifactError as error:
        raise _bad(error, "manifest") from None
    if len({entry["path"] for entry in entries}) != len(entries):
        raise ApiError(400, "invalid_manifest", "a path appears twice in the manifest")
    return sorted(entries, key=lambda entry: str(entry["path"]))


def register_version(session: Session, scope: Scope, project: Project, name: str, kind: str, digest: str,
                     files: list[dict[str, Any]], metadata: dict[str, Any], description: str | None,
                     aliases: list[str], run: Run | None) -> ArtifactVersionRow:
    """Register (or find, by digest) a version of ``name`` and move ``aliases`` to it.

    Raises:
        ApiError: 400 bad names, paths or aliases; 409 ``type_mismatch`` for a name of another type;
            409 ``missing_blobs`` (listing them) when the team lacks a blob the manifest names;
            422 ``digest_mismatch`` when ``digest`` is not the manifest's. Nothing is stored then.
    """
    check_name(name)
    try:
        validate_name(kind, "artifact type")
        wanted = [validate_alias(alias) for alias in aliases if alias != "latest"]
    except ArtifactError as error:
        raise _bad(error, "artifact") from None
    if description is not None and "\x00" in description:
        raise ApiError(400, "invalid_artifact", "the description holds a NUL character")
    try:
        meta = orjson.dumps(metadata).decode()
    except TypeError as error:
        raise ApiError(400, "invalid_artifact", f"the metadata cannot be stored: {error}") from None
    entries = _manifest(files)
    actual = manifest_digest(entries)
    if actual != digest:
        raise ApiError(422, "digest_mismatch", f"the manifest's digest is {actual}, not {digest}", digest=actual)
    needed = sorted({str(entry["sha256"]) for entry in entries if "ref" not in entry})
    held: set[str] = set()
    for start in range(0, len(needed), 500):
        held.update(session.scalars(select(Blob.digest).where(Blob.team_id == scope.team_id,
                                                              Blob.digest.in_(needed[start:start + 500]))))
    missing = [sha for sha in needed if sha not in held]
    if missing:
        raise ApiError(409, "missing_blobs", f"the team holds no blob for {len(missing)} of the manifest's files; "
                       "upload them (PUT /api/v1/blobs/{entity}/{sha256}) first", missing=missing[:1000])
    now = time.time()
    collection = session.scalars(select(ArtifactCollection).where(
        ArtifactCollection.project_id == project.id, ArtifactCollection.name == name).with_for_update()).first()
    if collection is None:
        collection = ArtifactCollection(project_id=project.id, name=name, type=kind, created_at=now)
        session.add(collection)
        session.flush()
    elif collection.type != kind:
        raise ApiError(409, "type_mismatch", f"{name!r} has type {collection.type!r}, not {kind!r}",
                       type=collection.type)
    version = session.scalars(select(ArtifactVersionRow).where(ArtifactVersionRow.collection_id == collection.id,
                                                               ArtifactVersionRow.digest == digest)
                              .order_by(ArtifactVersionRow.version.desc())).first()
    if version is None:
        top = session.scalar(select(func.max(ArtifactVersionRow.version))
                             .where(ArtifactVersionRow.collection_id == collection.id))
        version = ArtifactVersionRow(
            collection_id=collection.id, version=0 if top is None else top + 1, digest=digest,
            manifest=orjson.dumps(entries).decode(), size=sum(int(e["size"] or 0) for e in entries),
            file_count=len(entries), description=description, meta=meta,
            created_by=run.id if run is not None else None, created_at=now)
        session.add(version)
        session.flush()
        _backfill_usage(session, project, name, version)
    elif version.created_by is None and run is not None:
        version.created_by = run.id
    for alias in wanted:
        _point(session, collection, alias, version)
    return version


def _backfill_usage(session: Session, project: Project, name: str, version: ArtifactVersionRow) -> None:
    """Runs of the project whose records used this content before it was registered (a producer synced
    later) become its consumers."""
    rows = session.execute(select(Record.run_pk, Record.body).join(Run, Run.id == Record.run_pk)
                           .where(Run.project_id == project.id, Record.type == "artifact")).all()
    for run_pk, body in rows:
        record = orjson.loads(body)
        if (record.get("direction") == "used" and record.get("name") == name and record.get("digest") == version.digest
                and not record.get("project") and session.get(ArtifactUsage, (version.id, run_pk)) is None):
            session.add(ArtifactUsage(version_pk=version.id, run_pk=run_pk, used_at=time.time()))


def _point(session: Session, collection: ArtifactCollection, alias: str, version: ArtifactVersionRow) -> None:
    found = session.get(ArtifactAlias, (collection.id, alias))
    if found is None:
        session.add(ArtifactAlias(collection_id=collection.id, alias=alias, version_pk=version.id))
    else:
        found.version_pk = version.id


def set_alias(session: Session, collection: ArtifactCollection, alias: str, number: int) -> ArtifactVersionRow:
    """Move ``alias`` to version ``number``.

    Raises:
        ApiError: 400 for ``latest`` (it always names the newest version) or a bad alias; 404 no such version.
    """
    if alias == "latest":
        raise ApiError(400, "invalid_alias", "'latest' always names the newest version; it cannot be moved")
    try:
        validate_alias(alias)
    except ArtifactError as error:
        raise _bad(error, "alias") from None
    version = session.scalars(select(ArtifactVersionRow).where(ArtifactVersionRow.collection_id == collection.id,
                                                               ArtifactVersionRow.version == number)).first()
    if version is None:
        raise not_found(f"version {collection.name}:v{number}")
    _point(session, collection, alias, version)
    return version


def resolve(session: Session, collection: ArtifactCollection, selector: str) -> ArtifactVersionRow:
    """The version ``vN``, ``latest`` or an alias names.

    Raises:
        ApiError: 404 naming the versions and aliases that exist.
    """
    query = select(ArtifactVersionRow).where(ArtifactVersionRow.collection_id == collection.id)
    number = version_number(selector)
    if (number is not None and number >= 1 << 31) or (number is None and (len(selector) > 128 or "\x00" in selector)):
        number = -1  # nothing the database could hold: no such version
    if selector == "latest":
        query = query.order_by(ArtifactVersionRow.version.desc())
    elif number is not None:
        query = query.where(ArtifactVersionRow.version == number)
    else:
        query = query.join(ArtifactAlias, ArtifactAlias.version_pk == ArtifactVersionRow.id).where(
            ArtifactAlias.collection_id == collection.id, ArtifactAlias.alias == selector)
    found = session.scalars(query.limit(1)).first()
    if found is None:
        aliases = sorted(session.scalars(select(ArtifactAlias.alias)
                                         .where(ArtifactAlias.collection_id == collection.id)))
        versions = [f"v{n}" for n in session.scalars(select(ArtifactVersionRow.version).where(
            ArtifactVersionRow.collection_id == collection.id).order_by(ArtifactVersionRow.version))]
        raise ApiError(404, "not_found", f"no such version {collection.name}:{selector}; it has versions "
                       f"{', '.join(versions) or 'none'} and aliases {', '.join(['latest', *aliases])}")
    return found


def _aliases(session: Session, collection: ArtifactCollection, version: ArtifactVersionRow) -> list[str]:
    top = session.scalar(select(func.max(ArtifactVersionRow.version))
                         .where(ArtifactVersionRow.collection_id == collection.id))
    named = sorted(session.scalars(select(ArtifactAlias.alias).where(ArtifactAlias.version_pk == version.id)))
    return (["latest"] if version.version == top else []) + named


def _run_ref(session: Session, run_pk: int | None, team: str) -> dict[str, Any] | None:
    if run_pk is None:
        return None
    row = session.execute(select(Run.run_id, Run.name, Run.state, Project.name)
                          .join(Project, Project.id == Run.project_id).where(Run.id == run_pk)).first()
    if row is None:
        return None
    run_id, name, state, project = row
    return {"id": run_id, "entity": team, "project": project, "name": name or run_id, "state": state}


def version_json(session: Session, collection: ArtifactCollection, version: ArtifactVersionRow, team: str,
                 project: str, with_files: bool = True) -> dict[str, Any]:
    """A version as the API shows it: identity, aliases, metadata, producer and consumer runs (and files)."""
    consumers = session.scalars(select(ArtifactUsage.run_pk).where(ArtifactUsage.version_pk == version.id)
                                .order_by(ArtifactUsage.used_at)).all()
    body: dict[str, Any] = {
        "entity": team, "project": project, "name": collection.name, "type": collection.type,
        "version": version.version, "ref": f"{collection.name}:v{version.version}", "digest": version.digest,
        "aliases": _aliases(session, collection, version), "size": version.size, "file_count": version.file_count,
        "description": version.description, "metadata": orjson.loads(version.meta),
        "created_at": version.created_at, "created_by": _run_ref(session, version.created_by, team),
        "used_by": [ref for pk in consumers if (ref := _run_ref(session, pk, team)) is not None]}
    if with_files:
        body["files"] = orjson.loads(version.manifest)
    return body


def collection_json(session: Session, collection: ArtifactCollection) -> dict[str, Any]:
    count, top = session.execute(select(func.count(ArtifactVersionRow.id), func.max(ArtifactVersionRow.version))
                                 .where(ArtifactVersionRow.collection_id == collection.id)).one()
    return {"name": collection.name, "type": collection.type, "versions": count, "latest": top,
            "created_at": collection.created_at}


def lineage(session: Session, root: ArtifactVersionRow, team: str, depth: int) -> dict[str, Any]:
    """The graph around ``root`` up to ``depth`` hops each way: nodes (runs and versions) and edges
    (run -> version it produced, version -> run that used it). A node reached again by another path is walked
    again only with more hops left, so shared ancestors cost one visit each, not one per path to them."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: set[tuple[str, str]] = set()

    def version_node(pk: int) -> str | None:
        row = session.execute(select(ArtifactVersionRow, ArtifactCollection, Project.name)
                              .join(ArtifactCollection, ArtifactCollection.id == ArtifactVersionRow.collection_id)
                              .join(Project, Project.id == ArtifactCollection.project_id)
                              .where(ArtifactVersionRow.id == pk)).first()
        if row is None:
            return None
        version, collection, project = row
        key = f"artifact:{pk}"
        nodes.setdefault(key, {"id": key, "kind": "artifact", "entity": team, "project": project,
                               "name": collection.name, "type": collection.type, "version": version.version,
                               "ref": f"{collection.name}:v{version.version}", "digest": version.digest})
        return key

    def run_node(pk: int) -> str | None:
        ref = _run_ref(session, pk, team)
        if ref is None:
            return None
        key = f"run:{pk}"
        nodes.setdefault(key, {**ref, "id": key, "kind": "run", "run_id": ref["id"]})
        return key

    walked: dict[tuple[str, int, str], int] = {}  # the most hops a node was walked on with, each way

    def walk(kind: str, pk: int, hops: int, direction: str) -> None:
        if hops <= 0 or walked.get((kind, pk, direction), 0) >= hops:
            return  # a node reached again by another path is walked again only when it has more hops left
        walked[(kind, pk, direction)] = hops
        if kind == "artifact":
            if direction == "up":
                producer = session.scalar(select(ArtifactVersionRow.created_by).where(ArtifactVersionRow.id == pk))
                targets = [producer] if producer is not None else []
            else:
                targets = list(session.scalars(select(ArtifactUsage.run_pk).where(ArtifactUsage.version_pk == pk)))
            for run_pk in targets:
                if (key := run_node(run_pk)) is not None:
                    edges.add((key, f"artifact:{pk}") if direction == "up" else (f"artifact:{pk}", key))
                    walk("run", run_pk, hops - 1, direction)
        else:
            if direction == "up":
                targets = list(session.scalars(select(ArtifactUsage.version_pk).where(ArtifactUsage.run_pk == pk)))
            else:
                targets = list(session.scalars(select(ArtifactVersionRow.id)
                                               .where(ArtifactVersionRow.created_by == pk)))
            for version_pk in targets:
                if (key := version_node(version_pk)) is not None:
                    edges.add((key, f"run:{pk}") if direction == "up" else (f"run:{pk}", key))
                    walk("artifact", version_pk, hops - 1, direction)

    root_key = version_node(root.id)
    walk("artifact", root.id, depth, "up")
    walk("artifact", root.id, depth, "down")
    return {"root": root_key, "nodes": list(nodes.values()),
            "edges": [{"from": a, "to": b} for a, b in sorted(edges)]}


def index_artifact_records(session: Session, run: Run, records: Iterable[dict[str, Any]]) -> None:
    """Ingest's hook: a ``used`` record adds the run to the version's consumers (found by name and digest in the
    record's ``project``, else the run's; a record naming another team's ``entity`` is skipped); a ``logged``
    one makes the run the producer of a version registered without one. Records naming no version the server
    holds are left to the raw records."""
    for record in records:
        direction, name, digest = record.get("direction"), record.get("name"), record.get("digest")
        if direction not in ("used", "logged") or not isinstance(name, str) or not isinstance(digest, str):
            continue
        project_id: int | None = run.project_id
        team, other = record.get("entity"), record.get("project")
        if isinstance(team, str) and team and team != session.scalar(
                select(Team.name).join(Project, Project.team_id == Team.id).where(Project.id == run.project_id)):
            continue  # another team's version: lineage stays within a team
        if isinstance(other, str) and other:
            team_id = session.scalar(select(Project.team_id).where(Project.id == run.project_id))
            project_id = session.scalar(select(Project.id).where(Project.team_id == team_id, Project.name == other))
            if project_id is None:
                continue
        version = session.scalars(
            select(ArtifactVersionRow)
            .join(ArtifactCollection, ArtifactCollection.id == ArtifactVersionRow.collection_id)
            .where(ArtifactCollection.project_id == project_id, ArtifactCollection.name == name,
                   ArtifactVersionRow.digest == digest).order_by(ArtifactVersionRow.version.desc())).first()
        if version is None:
            continue
        if direction == "logged":
            if version.created_by is None:
                version.created_by = run.id
        elif session.get(ArtifactUsage, (version.id, run.id)) is None:
            session.add(ArtifactUsage(version_pk=version.id, run_pk=run.id, used_at=time.time()))

"""Artifacts from the team server into a local store: resolve ``[entity/][project/]name[:vN|:alias]`` with
the server's artifact routes, then fetch the blobs the store lacks, each verified against its digest."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tracker_core.sync._client import ServerClient, ServerError, segment

if TYPE_CHECKING:
    from tracker_core.artifacts import ArtifactStore, ArtifactVersion

__all__ = ["ArtifactRef", "pull_version", "resolve_remote", "split_ref"]

_CHUNK = 1 << 20


class ArtifactRef:
    """A reference split into its parts; ``entity`` and ``project`` None when not written."""

    def __init__(self, entity: str | None, project: str | None, name: str) -> None:
        self.entity, self.project, self.name = entity, project, name

    def __repr__(self) -> str:
        return f"ArtifactRef({self.entity!r}, {self.project!r}, {self.name!r})"


def split_ref(ref: str) -> ArtifactRef:
    """``entity/project/name:alias``, ``project/name:alias`` or ``name:alias`` (the alias is kept in ``name``)."""
    parts = ref.split("/")
    if len(parts) >= 3:
        return ArtifactRef(parts[-3], parts[-2], parts[-1])
    if len(parts) == 2:
        return ArtifactRef(None, parts[0], parts[1])
    return ArtifactRef(None, None, ref)


def resolve_remote(client: ServerClient, entity: str, project: str, name_ref: str) -> dict[str, Any]:
    """The server's version ``name_ref`` (``name``, ``name:vN``, ``name:alias``) of ``entity/project``, with its
    manifest.

    Raises:
        ArtifactError: the server has no such artifact or version (its message lists what exists).
        ServerError: the server could not be reached or refused for another reason.
    """
    from tracker_core.artifacts import ArtifactError
    from tracker_core.artifacts._names import parse_ref

    name, selector = parse_ref(name_ref)
    path = f"/api/v1/artifact-collections/{segment(entity)}/{segment(project)}/{segment(name)}/{segment(selector)}"
    try:
        return dict(client.call("GET", path, f"resolving {entity}/{project}/{name}:{selector}"))
    except ServerError as exc:
        if exc.status == 404:
            raise ArtifactError(f"{entity}/{project}/{name}:{selector} is not on {client.url}: "
                                f"{exc.body.get('detail', 'no such artifact')}",
                                "check the name, project and team; list them with "
                                "Api(server=...).artifacts('entity/project')") from None
        raise


def _blob_bytes(client: ServerClient, entity: str, sha: str) -> Iterator[bytes]:
    return client.download(f"/api/v1/blobs/{segment(entity)}/{sha}", f"downloading blob {sha[:12]}", _CHUNK)


def pull_version(client: ServerClient, store: ArtifactStore, data: dict[str, Any]) -> ArtifactVersion:
    """The server's version ``data`` (from ``resolve_remote``) in ``store``: reused when the store holds its
    digest, else its missing blobs are downloaded and verified first (see ``artifacts._import``).

    Raises:
        ArtifactError: a file arrived with another digest, or the manifest is not the version's.
        ServerError: a download failed (nothing of the version is kept).
        OSError: the store cannot be written.
    """
    from tracker_core.artifacts._import import import_version

    entity = str(data["entity"])
    producer = data.get("created_by")
    created_by = f"{producer['project']}/{producer['id']}" if isinstance(producer, dict) else None
    return import_version(store, str(data["name"]), str(data["type"]), int(data["version"]), str(data["digest"]),
                          list(data.get("files") or []), lambda sha: _blob_bytes(client, entity, sha),
                          metadata=data.get("metadata") or {}, description=data.get("description"),
                          created_by=created_by)

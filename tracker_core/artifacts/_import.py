"""Bringing a version made elsewhere (the team server) into a local ``ArtifactStore``.

Every blob the local store lacks is fetched into a temporary file while it is hashed, and kept only
if its sha256 is the manifest's; the manifest is then checked against the version's digest. Only
when every file is in place are the manifest and the registry entry written, so a failure (a
corrupted blob, a lost connection) leaves no version behind, only verified blobs for ``gc``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tracker_core.artifacts._errors import ArtifactError
from tracker_core.artifacts._manifest import _entry, check_layout, manifest_digest
from tracker_core.artifacts._registry import ArtifactVersion, file_lock, to_version

if TYPE_CHECKING:
    from tracker_core.artifacts._store import ArtifactStore

__all__ = ["import_version"]

Fetch = Callable[[str], Iterator[bytes]]


def _fetch_blob(store: ArtifactStore, sha: str, path: str, fetch: Fetch) -> int:
    """Fetch blob ``sha`` into the store; returns its size. Raises ArtifactError on a digest mismatch."""
    blobs = store._blobs
    temporary = blobs._temporary()
    try:
        digest, size = hashlib.sha256(), 0
        with open(temporary, "xb") as handle:
            for chunk in fetch(sha):
                digest.update(chunk)
                handle.write(chunk)
                size += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        if digest.hexdigest() != sha:
            raise ArtifactError(f"{path!r} arrived corrupted: its sha256 is {digest.hexdigest()}, the manifest "
                                f"says {sha}", "the server's copy is damaged; log the artifact again from its "
                                "source files (nothing was kept of this download)")
        os.chmod(temporary, 0o444)
        os.makedirs(os.path.dirname(blobs.path(sha)), exist_ok=True)
        os.replace(temporary, blobs.path(sha))
        store._count(size)
        return size
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)


def import_version(store: ArtifactStore, name: str, kind: str, number: int, digest: str,
                   files: list[dict[str, Any]], fetch: Fetch, *, metadata: dict[str, Any] | None = None,
                   description: str | None = None, created_by: str | None = None) -> ArtifactVersion:
    """The local version with ``digest`` of ``name``, fetched first when the store lacks it.

    It keeps the number ``number`` unless the local store uses that number for other content, then it
    becomes the next local version. ``fetch(sha)`` yields a blob's bytes.

    Raises:
        ArtifactError: a malformed manifest or one whose digest is not ``digest``, a file that arrives with
            another sha256 (nothing of the version is kept), a type other than the local name's.
        OSError: the store cannot be written.
    """
    try:
        entries = [_entry(raw) for raw in files]
    except (KeyError, TypeError, ValueError) as error:
        raise ArtifactError(f"the server's manifest of {name} is malformed: {error}", "report it") from None
    check_layout([entry["path"] for entry in entries])
    if manifest_digest(entries) != digest:
        raise ArtifactError(f"the server's manifest of {name}:v{number} does not match its digest {digest}",
                            "the server's copy is damaged; log the artifact again from its source files")
    registry = store._registry(name)
    for existing in store.versions(name):
        if existing.digest == digest:
            return existing
    os.makedirs(store.root, exist_ok=True)
    with file_lock(store._gc_lock, exclusive=False):
        for entry in entries:
            if "ref" not in entry and not store._blobs.has(entry["sha256"]):
                _fetch_blob(store, entry["sha256"], entry["path"], fetch)
        store._manifests.write(entries)
        with registry.edit() as data:
            if data["type"] not in (None, kind):
                raise ArtifactError(f"the local {name!r} has type {data['type']!r}, the server's {kind!r}",
                                    "rename the local artifact, or use Api(server=...).artifact(...)")
            data["type"] = kind
            found = next((e for e in data["versions"] if e["digest"] == digest), None)
            if found is None:
                taken = {e["version"] for e in data["versions"]}
                chosen = number if number not in taken else max([*taken, data["next_version"] - 1]) + 1
                found = {"version": chosen, "digest": digest, "created_at": time.time(), "created_by": created_by,
                         "used_by": [], "description": description, "metadata": dict(metadata or {}),
                         "size": sum(e["size"] or 0 for e in entries), "file_count": len(entries)}
                data["versions"].append(found)
                data["versions"].sort(key=lambda e: e["version"])
                data["next_version"] = max(data["next_version"], chosen + 1)
            return to_version(data, found)

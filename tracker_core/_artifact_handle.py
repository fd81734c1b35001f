"""``StoredArtifact``: one artifact version as users see it, with download and lineage."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracker_core.api import StoredRun
    from tracker_core.artifacts import ArtifactStore, ArtifactVersion
    from tracker_core.artifacts._entries import ArtifactEntry

__all__ = ["StoredArtifact"]


class StoredArtifact:
    """A committed artifact version: its identity (``name:vN`` on top of a digest), files and lineage."""

    def __init__(self, store: ArtifactStore, version: ArtifactVersion, root: str) -> None:
        self._store = store
        self._version = version
        self._root = root
        self.name = version.name
        self.type = version.type
        self.version = version.version
        self.digest = version.digest
        self.aliases = version.aliases
        self.description = version.description
        self.metadata = version.metadata
        self.size = version.size
        self.created_at = version.created_at

    @property
    def ref(self) -> str:
        """``name:vN``."""
        return self._version.ref

    def files(self) -> list[dict[str, Any]]:
        """The manifest: path inside the artifact, sha256 and size of each file."""
        return self._store.files(self._version)

    def download(self, root: str | os.PathLike[str] | None = None, allow_missing_references: bool = False) -> str:
        """Materialise the files (default under the store) with every digest verified; returns the folder.

        Raises:
            tracker_core.artifacts.ArtifactError: a file is missing or corrupted in the store, or a
                reference cannot be fetched (see ``ArtifactStore.download``).
        """
        return self._store.download(self._version, root, allow_missing_references=allow_missing_references)

    def get_entry(self, name: str) -> ArtifactEntry:
        """The entry ``name`` (a medium's name may omit its ``.table.json``-style suffix), with ``download()``.

        Raises:
            tracker_core.artifacts.ArtifactError: no such entry (it is a KeyError too, as in W&B).
        """
        from tracker_core.artifacts._entries import get_entry

        return get_entry(self._store, self._version, name)

    def get(self, name: str) -> Any:
        """The medium added as ``name`` with ``Artifact.add``: a Table (media cells as StoredMedia) or a
        StoredMedia, which log again as they were; None when ``name`` is no medium."""
        from tracker_core.artifacts._entries import get_medium

        return get_medium(self._store, self._version, name)

    def wait(self, timeout: float | None = None) -> StoredArtifact:
        """This version (it is committed already; W&B's ``wait`` returns once logging is done)."""
        return self

    def logged_by(self) -> StoredRun | None:
        """The run that created this version, if it is still in the store."""
        producer, _ = self._store.producers_and_consumers(self.digest)
        runs = _runs(self._root, [producer] if producer else [])
        return runs[0] if runs else None

    def used_by(self) -> list[StoredRun]:
        """The runs that used this version (any name with the same digest), oldest first."""
        _, consumers = self._store.producers_and_consumers(self.digest)
        return _runs(self._root, consumers)

    def __repr__(self) -> str:
        return f"<StoredArtifact {self.ref} {self.type} {self.digest[:12]} aliases={list(self.aliases)}>"


def _runs(root: str, paths: list[str] | tuple[str, ...]) -> list[StoredRun]:
    from tracker_core._errors import RunNotFoundError
    from tracker_core.api import Api

    api = Api(root)
    found = []
    for path in paths:
        try:
            found.append(api.run(path))
        except RunNotFoundError:
            continue  # the run was deleted; the edge stays in the registry
    return found

"""``Run.log_artifact`` / ``Run.use_artifact``: versions in the store's ``ArtifactStore`` and the run's
lineage records."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tracker_core._artifact_handle import StoredArtifact

if TYPE_CHECKING:
    from tracker_core._notices import Notices
    from tracker_core._records import RunRecords
    from tracker_core._settings import Settings
    from tracker_core.artifacts import Artifact, ArtifactStore

__all__ = ["ArtifactGlue"]


class ArtifactGlue:
    """Commits and resolves artifacts for one run and records their use."""

    def __init__(self, records: RunRecords, notices: Notices, settings: Settings) -> None:
        self._records = records
        self._notices = notices
        self._settings = settings

    def log_artifact(self, artifact: Artifact, aliases: Sequence[str], link: str | None) -> StoredArtifact | None:
        """``Run.log_artifact``: see there.

        Raises:
            ArtifactError: a bad name, path, alias or link mode, or a file that cannot be read.
        """
        records = self._records
        if records.inactive is not None or records.run_dir is None:
            self._notices.inactive_call("log_artifact", records.inactive)
            return None
        store = self._store(link)
        version = store.commit(artifact, created_by=records.path, aliases=tuple(aliases))
        records.append({"type": "artifact", "direction": "logged", "name": version.name, "version": version.version,
                        "digest": version.digest, "aliases": list(version.aliases)})
        return StoredArtifact(store, version, records.run_dir.root)

    def use_artifact(self, ref: str) -> StoredArtifact:
        """``Run.use_artifact``: see there.

        Raises:
            ArtifactError: no such artifact, version or alias (the message lists what exists).
        """
        records = self._records
        store = self._store()
        version = store.resolve(ref)
        if records.inactive is None and records.run_dir is not None:
            version = store.record_use(version, records.path)
            records.append({"type": "artifact", "direction": "used", "name": version.name,
                            "version": version.version, "digest": version.digest})
        return StoredArtifact(store, version, self._root())

    def _root(self) -> str:
        run_dir = self._records.run_dir
        return run_dir.root if run_dir else os.path.abspath(os.path.expanduser(self._settings.dir))

    def _store(self, link: str | None = None) -> ArtifactStore:
        from tracker_core.artifacts import ArtifactStore

        return ArtifactStore(self._root(), link=link or self._settings.artifact_link)

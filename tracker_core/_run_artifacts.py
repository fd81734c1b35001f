"""``Run.log_artifact`` / ``Run.use_artifact`` and W&B's model helpers (``log_model``, ``use_model``,
``link_model``, ``link_artifact``): versions in the store's ``ArtifactStore`` and the run's lineage records.

A registered model (W&B's model registry) is an artifact name here: ``link_model(path, "classifier")``
commits the same files as the next version of the artifact ``classifier`` (type ``model``), so the
linked version has the logged version's digest, its own ``vN`` and the given aliases, and a
``linked`` artifact record names both.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tracker_core.api import StoredArtifact

if TYPE_CHECKING:
    from tracker_core._notices import Notices
    from tracker_core._records import RunRecords
    from tracker_core._settings import Settings
    from tracker_core.artifacts import Artifact, ArtifactStore, ArtifactVersion

__all__ = ["ArtifactGlue"]


class ArtifactGlue:
    """Commits and resolves artifacts for one run and records their use."""

    def __init__(self, records: RunRecords, notices: Notices, settings: Settings) -> None:
        self._records = records
        self._notices = notices
        self._settings = settings

    def log_artifact(self, artifact_or_path: Artifact | str | os.PathLike[str], name: str | None = None,
                     type: str | None = None, aliases: Sequence[str] | None = None,  # noqa: A002 - W&B's name
                     link: str | None = None) -> StoredArtifact | None:
        """``Run.log_artifact``: see there.

        Raises:
            ArtifactError: a bad name, path, alias or link mode, or a file that cannot be read.
        """
        records = self._records
        artifact = self.build(artifact_or_path, name, type)
        if records.inactive is not None or records.run_dir is None:
            self._notices.inactive_call("log_artifact", records.inactive)
            return None
        store = self._store(link)
        version = store.commit(artifact, created_by=records.path, aliases=tuple(aliases or ()))
        records.append({"type": "artifact", "direction": "logged", "name": version.name, "version": version.version,
                        "digest": version.digest, "aliases": list(version.aliases)})
        return StoredArtifact(store, version, records.run_dir.root)

    def build(self, artifact_or_path: Any, name: str | None, type: str | None) -> Artifact:  # noqa: A002
        """An Artifact, or one built from a file or folder path as W&B does (name ``run-<id>-<basename>``).

        Raises:
            ArtifactError: neither an Artifact nor an existing file or folder.
        """
        from tracker_core.artifacts import Artifact, ArtifactError

        if isinstance(artifact_or_path, Artifact):
            return artifact_or_path
        if not isinstance(artifact_or_path, (str, os.PathLike)):
            raise ArtifactError(f"expected an Artifact or a path, got {artifact_or_path.__class__.__name__}",
                                "pass tracker_core.Artifact(name, type) or the path of a file or folder")
        path = os.fspath(artifact_or_path)
        if "://" in path:
            raise ArtifactError(f"{path!r} is a URL, not a local file or folder",
                                "build an Artifact and record the URL with add_reference")
        from tracker_core._run_files import safe_artifact_name

        default = safe_artifact_name(f"run-{self._records.run_id}-{os.path.basename(path.rstrip(os.sep))}")
        artifact = Artifact(name or default, type or "unspecified")
        if os.path.isdir(path):
            artifact.add_dir(path)
        else:
            artifact.add_file(path)
        return artifact

    def use_artifact(self, artifact_or_name: Any, type: str | None = None) -> StoredArtifact:  # noqa: A002
        """``Run.use_artifact``: see there. On an online run, a version the local store lacks (or one named
        ``entity/project/name:...``) comes from the team server: downloaded, verified, kept in the store.

        Raises:
            ArtifactError: no such artifact, version or alias (the message lists what exists), another type,
                or a file that arrived corrupted from the server (nothing of it is kept).
            ServerError: the server could not be asked or a download failed.
        """
        from tracker_core.artifacts import ArtifactError

        ref = artifact_or_name.ref if isinstance(artifact_or_name, StoredArtifact) else artifact_or_name
        records = self._records
        store = self._store()
        source: tuple[str, str] | None = None  # (team, project) of a version pulled from the server
        if isinstance(ref, str) and "/" in ref and self._settings.mode == "online" and self._settings.server:
            version, source = self._pull(store, ref)
        else:
            if isinstance(ref, str) and "/" in ref:
                ref = ref.rsplit("/", 1)[1]  # W&B's entity/project/ prefix: one store here
            try:
                version = store.resolve(ref)
            except ArtifactError:
                if self._settings.mode != "online" or not self._settings.server or not isinstance(ref, str):
                    raise
                version, source = self._pull(store, ref)
        if type is not None and version.type != type:
            raise ArtifactError(f"{version.ref} has type {version.type!r}, not {type!r}",
                                f"pass type={version.type!r}, or the name of a {type!r} artifact")
        if records.inactive is None and records.run_dir is not None:
            version = store.record_use(version, records.path)
            record = {"type": "artifact", "direction": "used", "name": version.name, "version": version.version,
                      "digest": version.digest}
            if source is not None:  # the server finds the version in that team's project (lineage within a team)
                record["entity"] = source[0]
                if source[1] != records.project:
                    record["project"] = source[1]
            records.append(record)
        return StoredArtifact(store, version, self._root())

    def _pull(self, store: ArtifactStore, ref: str) -> tuple[ArtifactVersion, tuple[str, str]]:
        """The server's version ``ref`` in the local store, and the (team, project) it is from."""
        from tracker_core.sync import ServerClient
        from tracker_core.sync._artifact_pull import pull_version, resolve_remote, split_ref

        settings = self._settings
        parts = split_ref(ref)
        key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        client = ServerClient(str(settings.server), key)
        try:
            entity = parts.entity or self._records.meta.get("entity") or settings.entity
            if not entity:
                teams = [str(t["name"]) for t in client.whoami().get("teams", []) if isinstance(t, dict)]
                if len(teams) != 1:
                    from tracker_core.artifacts import ArtifactError

                    raise ArtifactError(f"{ref!r} names no team and the API key has {len(teams)}",
                                        "write entity/project/name:alias, or set TRACKER_ENTITY")
                entity = teams[0]
            project = parts.project or self._records.project
            data = resolve_remote(client, str(entity), project, parts.name)
            return pull_version(client, store, data), (str(entity), project)
        finally:
            client.close()

    def use_model(self, name: str) -> str:
        """``Run.use_model``: see there.

        Raises:
            ArtifactError: no such artifact, or one whose type does not contain "model".
        """
        from tracker_core.artifacts import ArtifactError

        used = self.use_artifact(name)
        if "model" not in used.type.lower():
            raise ArtifactError(f"{used.ref} has type {used.type!r}, which is not a model",
                                "use_model() takes artifacts whose type contains 'model'; use use_artifact()")
        folder = used.download()
        entries = os.listdir(folder)
        return os.path.join(folder, entries[0]) if len(entries) == 1 else folder

    def link(self, logged: StoredArtifact, artifact: Artifact, collection: str,
             aliases: Sequence[str] | None) -> StoredArtifact | None:
        """Commit ``artifact`` (the files of version ``logged``) again as a version of ``collection`` and record
        the link. None on a run that writes nothing.

        Raises:
            ArtifactError: a bad collection name (a path with '/' included) or alias.
        """
        from tracker_core.artifacts import Artifact, ArtifactError

        if not isinstance(collection, str) or "/" in collection:
            raise ArtifactError(f"invalid registered model or collection name {collection!r}",
                                "pass only the name, without an entity or project (e.g. 'classifier')")
        records = self._records
        if records.inactive is not None or records.run_dir is None:
            return None
        linked = Artifact(collection, artifact.type, artifact.description, artifact.metadata)
        for path, source in artifact.sources():
            linked.add_file(source, name=path)
        store = self._store()
        version = store.commit(linked, created_by=records.path, aliases=tuple(aliases or ()))
        records.append({"type": "artifact", "direction": "linked", "name": version.name, "version": version.version,
                        "digest": version.digest, "aliases": list(version.aliases), "source": logged.ref})
        return StoredArtifact(store, version, records.run_dir.root)

    def _root(self) -> str:
        run_dir = self._records.run_dir
        return run_dir.root if run_dir else os.path.abspath(os.path.expanduser(self._settings.dir))

    def _store(self, link: str | None = None) -> ArtifactStore:
        from tracker_core.artifacts import ArtifactStore

        return ArtifactStore(self._root(), link=link or self._settings.artifact_link)

"""``Artifact``: what a user builds (name, type, description, metadata, files) before logging it.

``add_file``/``add_dir`` read no file content; they record where each in-artifact path comes
from. ``add`` (a medium), ``new_file`` and ``add_reference`` follow W&B: a medium is encoded and
``new_file`` written into a private staging folder at once; a reference is hashed when added
(see ``_references``). Once committed (``run.log_artifact``) the object is bound to its version:
``wait``, ``files``, ``download``, ``get`` and ``get_entry`` read it, and adding more raises. Symbolic
links are followed: an artifact holds bytes, never links, so a link to a file outside the added
folder contributes that file's content (reading is harmless; nothing is ever written through
it). Linked folders are walked too; a link cycle, a dangling link or anything that is not a
regular file or folder is refused.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

import orjson

from tracker_core._errors import TrackerWarning
from tracker_core.artifacts._entries import ArtifactEntry, get_entry, get_medium, medium_path
from tracker_core.artifacts._errors import ArtifactError
from tracker_core.artifacts._names import normalize_path, validate_name
from tracker_core.artifacts._references import reference_entries

if TYPE_CHECKING:
    from tracker_core.artifacts._registry import ArtifactVersion
    from tracker_core.artifacts._store import ArtifactStore

__all__ = ["Artifact"]


def _walk(folder: str, prefix: str, ancestors: frozenset[tuple[int, int]]) -> Iterator[tuple[str, str]]:
    """(in-artifact path, real source path) of every file under ``folder``, sorted, following links."""
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        path = f"{prefix}/{entry.name}" if prefix else entry.name
        if entry.is_dir(follow_symlinks=True):
            st = os.stat(entry.path)
            key = (st.st_dev, st.st_ino)
            if key in ancestors:
                raise ArtifactError(f"{entry.path!r} links back to a folder above it",
                                    "remove the link cycle, or add the folders separately")
            yield from _walk(entry.path, path, ancestors | {key})
        elif entry.is_file(follow_symlinks=True):
            yield path, os.path.realpath(entry.path)
        else:
            raise ArtifactError(f"{entry.path!r} is not a regular file (a dangling link, a socket or a pipe?)",
                                "remove it from the folder, or add the files you want with add_file")


class Artifact:
    """A named, typed set of files to log as a new version.

    ``art.add_file(path, name=None)`` and ``art.add_dir(path, name=None)`` record sources; content
    is read, hashed and stored when the artifact is committed (``run.log_artifact``).

    Raises:
        ArtifactError: a bad name, type, description or metadata (not JSON-encodable).
    """

    def __init__(self, name: str, type: str, description: str | None = None,  # noqa: A002 (W&B's argument name)
                 metadata: dict[str, Any] | None = None) -> None:
        self.name = validate_name(name)
        self.type = validate_name(type, "artifact type")
        if description is not None and not isinstance(description, str):
            raise ArtifactError(f"description must be a string or None, not {description.__class__.__name__}",
                                "pass description='...'")
        self.description = description
        if metadata is not None and not isinstance(metadata, dict):
            raise ArtifactError(f"metadata must be a dict or None, not {metadata.__class__.__name__}",
                                "pass metadata={'key': value}")
        try:
            self.metadata: dict[str, Any] = orjson.loads(orjson.dumps(metadata or {}))
        except TypeError as error:
            raise ArtifactError(f"metadata cannot be encoded as JSON: {error}",
                                "use str keys and JSON values (numbers, strings, lists, dicts, None)") from None
        self._sources: dict[str, str] = {}
        self._references: dict[str, dict[str, Any]] = {}
        self._staging: tempfile.TemporaryDirectory[str] | None = None
        self._logged: tuple[ArtifactStore, ArtifactVersion] | None = None

    def _add(self, path: str, source: str, overwrite: bool = False) -> None:
        self._check_draft()
        known = self._sources.get(path)
        if path in self._references or (known is not None and known != source and not overwrite):
            raise ArtifactError(f"{path!r} is already in the artifact, from {known or self._references[path]['ref']!r}",
                                "give the file another name with name=")
        self._sources[path] = source

    def _check_draft(self) -> None:
        if self._logged is not None:
            raise ArtifactError(f"{self.name} was already logged as {self._logged[1].ref}; it cannot change",
                                "build a new Artifact with the same name to log a new version")

    def _staged(self, path: str) -> str:
        """A file path for ``path`` in this artifact's private staging folder (parents made)."""
        if self._staging is None:
            self._staging = tempfile.TemporaryDirectory(prefix="tracker-artifact-")
        staged = os.path.join(self._staging.name, *path.split("/"))
        os.makedirs(os.path.dirname(staged), exist_ok=True)
        return staged

    def add_file(self, local_path: str | os.PathLike[str], name: str | None = None) -> None:
        """Add one file as ``name`` (default: its basename). Raises ArtifactError: not a file, bad name."""
        source = os.fspath(local_path)
        if not os.path.isfile(source):
            raise ArtifactError(f"{source!r} is not a file",
                                "pass the path of an existing file; use add_dir for folders")
        self._add(normalize_path(name if name is not None else os.path.basename(source)), os.path.realpath(source))

    def add_dir(self, local_path: str | os.PathLike[str], name: str | None = None) -> None:
        """Add every file under a folder, recursively, under the prefix ``name`` (default: the artifact's root).

        Raises:
            ArtifactError: not a folder, a bad prefix, a link cycle or an entry that is not a file.
        """
        source = os.fspath(local_path)
        if not os.path.isdir(source):
            raise ArtifactError(f"{source!r} is not a folder",
                                "pass the path of an existing folder; use add_file for files")
        prefix = normalize_path(name) if name else ""
        st = os.stat(source)
        for path, real in _walk(source, prefix, frozenset({(st.st_dev, st.st_ino)})):
            self._add(normalize_path(path), real)

    @contextmanager
    def new_file(self, name: str, mode: str = "x", encoding: str | None = None) -> Iterator[IO[Any]]:
        """Open a new file ``name`` of the artifact for writing; it is added when the block ends (W&B's
        ``new_file``). ``mode`` "x"/"xb" (the default) refuses a name already in the artifact, "w"/"wb" replaces it.

        Raises:
            ArtifactError: a bad name or mode, the name is taken (mode "x"), or the artifact was logged.
        """
        self._check_draft()
        path = normalize_path(name)
        if not mode.startswith(("w", "x")) or any(c not in "wxbt+" for c in mode):
            raise ArtifactError(f"invalid mode {mode!r} for new_file", "use 'x' or 'w' (add 'b' for bytes)")
        overwrite = mode.startswith("w")
        if not overwrite and (path in self._sources or path in self._references):
            raise ArtifactError(f"{path!r} is already in the artifact", "pass mode='w' to replace it, or another name")
        staged = self._staged(path)
        with open(staged, mode.replace("x", "w"), encoding=encoding) as handle:
            yield handle
        self._add(path, staged, overwrite=True)

    def add(self, obj: Any, name: str, overwrite: bool = False) -> ArtifactEntry:
        """Add a medium (Table, Image, Audio, Video, Plot, Histogram) as ``<name>.<suffix>.json``, as W&B
        stores it (e.g. ``predictions.table.json``), with the files it names beside it. Encoded now.

        A table cell whose media cannot be encoded is stored as null, with a warning naming the entry,
        row and column. Returns the entry (path, sha256, size).

        Raises:
            ArtifactError: ``obj`` is not a medium, the name is bad or taken (without ``overwrite``),
                or the artifact was logged.
            tracker_core.MediaError: the medium itself cannot be encoded.
        """
        from tracker_core.media import Media

        if not isinstance(obj, Media):
            raise ArtifactError(f"cannot add a {type(obj).__name__} with add()",
                                "add a Table, Image, Audio, Video, Plot or Histogram; files go in with add_file")
        encoded = obj.encode()
        path = normalize_path(medium_path(name, encoded.kind))
        if path in self._sources and not overwrite:
            raise ArtifactError(f"{path!r} is already in the artifact", "pass overwrite=True, or another name")
        for row, column, reason in encoded.skipped:
            warnings.warn(TrackerWarning(f"tracker: {self.name}/{path}, row {row}, column {column!r}: the cell "
                                         f"was stored as null: {reason}"), stacklevel=2)
        folder = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
        if encoded.kind == "table":
            document = encoded.files[0].data
            beside = encoded.files[1:]
        else:
            document = orjson.dumps({"kind": encoded.kind, **encoded.fields}, option=orjson.OPT_SORT_KEYS)
            beside = encoded.files
        for media_file in beside:
            staged = self._staged(folder + media_file.name)
            with open(staged, "wb") as handle:
                handle.write(media_file.data)
            self._add(folder + media_file.name, staged, overwrite=True)  # content-named: same name, same bytes
        staged = self._staged(path)
        with open(staged, "wb") as handle:
            handle.write(document)
        self._add(path, staged, overwrite=True)
        return ArtifactEntry(path, hashlib.sha256(document).hexdigest(), len(document))

    def add_reference(self, uri: str, name: str | None = None, checksum: bool = True,
                      max_objects: int | None = None) -> list[ArtifactEntry]:
        """Record a URI without storing its content (W&B's ``add_reference``); see ``_references``:
        ``file://`` files are hashed now (a folder adds each file), other schemes keep only the URI.

        Raises:
            ArtifactError: not a URI, a missing ``file://`` path, a taken name, or the artifact was logged.
        """
        self._check_draft()
        entries = reference_entries(uri, name, checksum, max_objects)
        for entry in entries:
            if entry["path"] in self._sources or entry["path"] in self._references:
                raise ArtifactError(f"{entry['path']!r} is already in the artifact", "pass another name=")
        for entry in entries:
            self._references[entry["path"]] = entry
        return [ArtifactEntry(e["path"], e["sha256"], e["size"], e["ref"]) for e in entries]

    def sources(self) -> list[tuple[str, str]]:
        """(in-artifact path, real source path) pairs, sorted by path."""
        return sorted(self._sources.items())

    def references(self) -> list[dict[str, Any]]:
        """The reference entries ({"path", "ref", "sha256", "size"}), sorted by path."""
        return [dict(self._references[path]) for path in sorted(self._references)]

    # ----- once logged ---------------------------------------------------------------------

    def _bind(self, store: ArtifactStore, version: ArtifactVersion) -> None:
        """Called by the store after committing this artifact: reads now go to ``version``."""
        self._logged = (store, version)

    def _version(self, what: str) -> tuple[ArtifactStore, ArtifactVersion]:
        if self._logged is None:
            raise ArtifactError(f"{self.name} is not logged yet, so {what} has nothing to read",
                                "log it first with run.log_artifact(artifact)")
        return self._logged

    @property
    def version(self) -> int | None:
        """The version number once logged (as ``StoredArtifact.version``), else None."""
        return self._logged[1].version if self._logged else None

    @property
    def digest(self) -> str | None:
        """The manifest digest once logged, else None."""
        return self._logged[1].digest if self._logged else None

    def wait(self, timeout: float | None = None) -> Artifact:
        """Return this artifact once logged (logging is synchronous here, so at once).

        Raises:
            ArtifactError: it was never logged.
        """
        self._version("wait()")
        return self

    def files(self) -> list[dict[str, Any]]:
        """The committed manifest: path, sha256 and size of each entry (and ``ref`` for references)."""
        store, version = self._version("files()")
        return store.files(version)

    def download(self, root: str | os.PathLike[str] | None = None, allow_missing_references: bool = False) -> str:
        """Materialise the committed files (verified) under ``root``; the folder. See ``ArtifactStore.download``."""
        store, version = self._version("download()")
        return store.download(version, root, allow_missing_references=allow_missing_references)

    def get_entry(self, name: str) -> ArtifactEntry:
        """The committed entry ``name`` (a medium's name may omit its suffix). Raises a KeyError ArtifactError."""
        store, version = self._version("get_entry()")
        return get_entry(store, version, name)

    def get(self, name: str) -> Any:
        """The medium added as ``name`` (a Table, or a StoredMedia), or None. See ``_entries.get_medium``."""
        store, version = self._version("get()")
        return get_medium(store, version, name)

    def __repr__(self) -> str:
        return f"Artifact({self.name!r}, type={self.type!r}, files={len(self._sources) + len(self._references)})"


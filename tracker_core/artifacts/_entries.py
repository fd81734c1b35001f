"""Reading one entry of a committed version: ``get_entry`` (its manifest entry) and ``get`` (a medium).

A medium added with ``Artifact.add(obj, name)`` is stored as W&B names it, ``<name>.<suffix>.json``
with the suffix of its kind (``table``, ``image-file``, ``audio-file``, ``video-file``, ``plot``,
``histogram``): a table's own JSON file, or for other kinds the medium's record fields. The files
those name lie beside it, named by content. ``get(name)`` accepts the name with or without the suffix.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from tracker_core.artifacts._errors import ArtifactError

if TYPE_CHECKING:
    from tracker_core.artifacts._registry import ArtifactVersion
    from tracker_core.artifacts._store import ArtifactStore

__all__ = ["SUFFIXES", "ArtifactEntry", "EntryNotFoundError", "find_entry", "get_entry", "get_medium",
           "medium_path"]

SUFFIXES = {"table": "table", "image": "image-file", "audio": "audio-file", "video": "video-file", "plot": "plot",
            "histogram": "histogram"}


class EntryNotFoundError(ArtifactError, KeyError):
    """No entry of that name in the artifact (a ``KeyError`` too, as W&B raises)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class ArtifactEntry:
    """One manifest entry: its path inside the artifact, sha256 and size (None for a reference that
    could not be read), and the URI of a reference. ``download()`` writes it out (committed versions only)."""

    path: str
    sha256: str | None
    size: int | None
    ref: str | None = None
    _fetch: Callable[[str | None], str] | None = field(default=None, repr=False, compare=False)

    @property
    def digest(self) -> str | None:
        """W&B's name for the content digest (sha256 hex here)."""
        return self.sha256

    def download(self, root: str | os.PathLike[str] | None = None) -> str:
        """Materialise this file (verified) under ``root`` (default: the version's download folder); its path.

        Raises:
            ArtifactError: the artifact is not logged yet, or the file is missing or corrupted.
        """
        if self._fetch is None:
            raise ArtifactError(f"{self.path!r} belongs to an artifact that is not logged yet",
                                "log it with run.log_artifact(artifact) first")
        return self._fetch(None if root is None else os.fspath(root))


def medium_path(name: str, kind: str) -> str:
    """``<name>.<suffix>.json`` for a medium of ``kind`` (unchanged if ``name`` already ends so)."""
    suffix = f".{SUFFIXES.get(kind, kind)}.json"
    return name if name.endswith(suffix) else name + suffix


def find_entry(files: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The entry at ``name``, or at ``name`` with a medium suffix."""
    by_path = {entry["path"]: entry for entry in files}
    if name in by_path:
        return by_path[name]
    return next((by_path[medium_path(name, kind)] for kind in SUFFIXES if medium_path(name, kind) in by_path), None)


def get_entry(store: ArtifactStore, version: ArtifactVersion, name: str) -> ArtifactEntry:
    """The entry ``name`` of ``version``. Raises EntryNotFoundError (a KeyError) when there is none."""
    entry = find_entry(store.files(version), name)
    if entry is None:
        raise EntryNotFoundError(f"{version.ref} has no entry {name!r}", "list them with artifact.files()")
    path = entry["path"]

    def fetch(root: str | None) -> str:
        return os.path.join(store.download(version, root, paths=[path]), path)

    return ArtifactEntry(path, entry.get("sha256"), entry.get("size"), entry.get("ref"), fetch)


def _stored(cls: Any, fields: dict[str, Any], folder: str) -> Any:
    kind = fields.pop("kind")
    return cls(kind, fields, folder)


def get_medium(store: ArtifactStore, version: ArtifactVersion, name: str) -> Any:
    """The medium added as ``name``: a ``Table`` (media cells as ``StoredMedia``) or a ``StoredMedia``;
    None when ``name`` is no medium (as W&B's ``Artifact.get``). Downloads the version (verified).

    Raises:
        ArtifactError: a stored file is missing or damaged.
    """
    from tracker_core.media import MediaError, StoredMedia, Table, decode_table

    entry = find_entry(store.files(version), name)
    kind = next((k for k in SUFFIXES if entry and entry["path"].endswith(f".{SUFFIXES[k]}.json")), None)
    if entry is None or kind is None or "ref" in entry:
        return None
    path = os.path.join(store.download(version), entry["path"])
    folder = os.path.dirname(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        if kind == "table":
            columns, rows = decode_table(data)
            cells = [[_stored(StoredMedia, dict(cell["$m"]), folder) if type(cell) is dict else cell
                      for cell in row] for row in rows]
            return Table(columns=columns, data=cells)
        return _stored(StoredMedia, orjson.loads(data), folder)
    except (OSError, orjson.JSONDecodeError, KeyError, MediaError) as error:
        raise ArtifactError(f"{version.ref}: {entry['path']!r} cannot be read back: {error}",
                            "the store was damaged; log the artifact again") from None

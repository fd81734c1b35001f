"""``Artifact``: what a user builds (name, type, description, metadata, files) before logging it.

Building reads no file content; it records where each in-artifact path comes from. Symbolic
links are followed: an artifact holds bytes, never links, so a link to a file outside the added
folder contributes that file's content (reading is harmless; nothing is ever written through
it). Linked folders are walked too; a link cycle, a dangling link or anything that is not a
regular file or folder is refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import orjson

from tracker_core.artifacts._errors import ArtifactError
from tracker_core.artifacts._names import normalize_path, validate_name

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

    def _add(self, path: str, source: str) -> None:
        known = self._sources.get(path)
        if known is not None and known != source:
            raise ArtifactError(f"{path!r} is already in the artifact, from {known!r}",
                                "give the file another name with name=")
        self._sources[path] = source

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

    def sources(self) -> list[tuple[str, str]]:
        """(in-artifact path, real source path) pairs, sorted by path."""
        return sorted(self._sources.items())

    def __repr__(self) -> str:
        return f"Artifact({self.name!r}, type={self.type!r}, files={len(self._sources)})"

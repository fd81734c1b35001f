"""Materialising a version into a folder, verifying every file, and remembering what was verified.

A marker per target folder, ``<root>/artifacts/downloads/.markers/<sha256 of the folder>.json``
(kept in the store, so the user's folder holds only the artifact's files), records for each path
the sha256 it was verified to have and the file's size, mtime_ns and inode. A later download
skips a file whose four values still match, so an unchanged download costs one stat per file.

Files are written as ``.<name>.<pid>.<random>.part`` beside their destination, verified, then
renamed over it: a failure never leaves a wrong file under the real name. Files already in the
target that the manifest does not name are left alone.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from tracker_core.artifacts._blobs import BlobStore
from tracker_core.artifacts._errors import ArtifactError
from tracker_core.artifacts._hashing import atomic_write, is_racy
from tracker_core.artifacts._names import normalize_path
from tracker_core.artifacts._progress import Progress

__all__ = ["fetch_reference", "materialise"]

_HINT = "the store was damaged; run `tracker gc`, then log the artifact again from its source files"


def _destination(target: str, path: str) -> str:
    """The file for ``path`` under the real folder ``target``, making its parents; never through a link.

    Raises:
        ArtifactError: a parent is a symbolic link or a file, or the path leaves ``target``.
    """
    segments = normalize_path(path).split("/")
    current = target
    for segment in segments[:-1]:
        current = os.path.join(current, segment)
        if os.path.islink(current) or (os.path.lexists(current) and not os.path.isdir(current)):
            raise ArtifactError(f"cannot write {path!r}: {current!r} is a link or a file",
                                "download into an empty folder, or remove what is in the way")
        if not os.path.isdir(current):
            os.mkdir(current)
    if os.path.commonpath([target, os.path.realpath(current)]) != target:
        raise ArtifactError(f"refusing to write {path!r} outside {target!r}", "download into an empty folder")
    return os.path.join(current, segments[-1])


def _load_marker(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = orjson.loads(handle.read())
    except (OSError, orjson.JSONDecodeError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return files if isinstance(files, dict) else {}


def materialise(blobs: BlobStore, files: list[dict[str, Any]], target: str, marker: str, digest: str,
                on_bytes: Callable[[int], None], progress: Progress) -> None:
    """Make the real folder ``target`` hold ``files``, each verified against its sha256.

    Raises:
        ArtifactError: a blob is missing or its content does not match (naming the file), or a
            path cannot be written inside ``target``.
        OSError: the target cannot be written.
    """
    known, verified = _load_marker(marker), {}
    started = time.time_ns()

    def counted(count: int) -> None:
        on_bytes(count)
        progress.update(count)

    try:
        for entry in files:
            path, sha = entry["path"], entry["sha256"]
            destination = _destination(target, path)
            try:
                st: os.stat_result | None = os.lstat(destination)
            except FileNotFoundError:
                st = None
            if st is not None and stat.S_ISREG(st.st_mode) and known.get(path) == [sha, st.st_size, st.st_mtime_ns,
                                                                                        st.st_ino]:
                verified[path] = known[path]
                progress.update(st.st_size)
                continue
            partial = os.path.join(os.path.dirname(destination),
                                   f".{os.path.basename(destination)}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
            try:
                actual = blobs.materialise(sha, partial, counted)
                if actual != sha:
                    raise ArtifactError(f"{path!r} is corrupted in the store: its content has sha256 {actual}, "
                                        f"not {sha}", _HINT)
                os.replace(partial, destination)
            except FileNotFoundError:
                raise ArtifactError(f"{path!r} is missing from the store (blob {sha})", _HINT) from None
            finally:
                if os.path.lexists(partial):
                    os.unlink(partial)
            st = os.stat(destination)
            if not is_racy(st, started):
                verified[path] = [sha, st.st_size, st.st_mtime_ns, st.st_ino]
    finally:
        progress.close()
        os.makedirs(os.path.dirname(marker), exist_ok=True)
        atomic_write(marker, orjson.dumps({"target": target, "digest": digest, "files": verified}), sync=False)


def fetch_reference(entry: dict[str, Any], target: str, on_bytes: Callable[[int], None]) -> None:
    """Copy a ``file://`` reference into ``target`` at its path, verified against its recorded sha256.

    Raises:
        ArtifactError: the referenced file is gone or changed since it was added, or the path
            cannot be written inside ``target``.
    """
    from urllib.parse import unquote, urlparse

    source = unquote(urlparse(entry["ref"]).path)
    destination = _destination(target, entry["path"])
    partial = os.path.join(os.path.dirname(destination),
                           f".{os.path.basename(destination)}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    hint = "the referenced file changed after the artifact was logged; log a new version to record it"
    try:
        digest = hashlib.sha256()
        with open(source, "rb") as reader, open(partial, "wb") as writer:
            while chunk := reader.read(1 << 20):
                digest.update(chunk)
                writer.write(chunk)
                on_bytes(len(chunk))
        if digest.hexdigest() != entry["sha256"]:
            raise ArtifactError(f"the reference {entry['ref']!r} no longer has sha256 {entry['sha256']}", hint)
        os.replace(partial, destination)
    except FileNotFoundError:
        raise ArtifactError(f"the reference {entry['ref']!r} is gone", hint) from None
    finally:
        if os.path.lexists(partial):
            os.unlink(partial)

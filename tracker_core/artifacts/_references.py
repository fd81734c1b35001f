"""References: artifact entries that name a URI instead of holding content (W&B's ``add_reference``).

A ``file://`` reference to a file is hashed when added (sha256 and size recorded, the content is
not copied into the store); one to a folder adds one reference per file under it. Any other
scheme (``s3://``, ``gs://``, ``https://``, ...) cannot be read here: it is recorded with its URI
only, ``sha256`` and ``size`` None, and never downloaded. With ``checksum=False`` nothing is
read and a ``file://`` reference is recorded the same way.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlparse

from tracker_core.artifacts._errors import ArtifactError
from tracker_core.artifacts._hashing import hash_file
from tracker_core.artifacts._names import normalize_path

__all__ = ["reference_entries"]


def _file_entry(path: str, uri: str, local: str) -> dict[str, Any]:
    try:
        sha, size = hash_file(local, lambda _count: None)
    except OSError as error:
        raise ArtifactError(f"cannot read the reference {uri!r}: {error.strerror}",
                            "check the path, or pass checksum=False to record the URI without its content") from None
    return {"path": normalize_path(path), "ref": uri, "sha256": sha, "size": size}


def reference_entries(uri: object, name: str | None, checksum: bool, max_objects: int | None) -> list[dict[str, Any]]:
    """Manifest entries (``{"path", "ref", "sha256", "size"}``) for ``uri``.

    Raises:
        ArtifactError: not a URI, a file:// path that does not exist, a folder with more than
            ``max_objects`` files, or a bad ``name``.
    """
    if not isinstance(uri, str) or not urlparse(uri).scheme or len(urlparse(uri).scheme) == 1:
        raise ArtifactError(f"references must be URIs, not {uri!r}", "to reference a local file, use file:///abs/path")
    parsed = urlparse(uri)
    tail = parsed.path.rstrip("/").rsplit("/", 1)[-1] or parsed.netloc
    if parsed.scheme != "file" or not checksum:
        return [{"path": normalize_path(name or unquote(tail)), "ref": uri, "sha256": None, "size": None}]
    local = unquote(parsed.path)
    if os.path.isfile(local):
        return [_file_entry(name or os.path.basename(local), uri, local)]
    if not os.path.isdir(local):
        raise ArtifactError(f"the reference {uri!r} names no file or folder", "check the path after file://")
    entries: list[dict[str, Any]] = []
    for folder, dirs, files in os.walk(local):
        dirs.sort()
        for file_name in sorted(files):
            full = os.path.join(folder, file_name)
            relative = os.path.relpath(full, local).replace(os.sep, "/")
            if max_objects is not None and len(entries) >= max_objects:
                raise ArtifactError(f"{uri!r} holds more than max_objects={max_objects} files",
                                    "raise max_objects, or reference a smaller folder")
            entries.append(_file_entry(f"{name}/{relative}" if name else relative,
                                       f"file://{full}", full))
    return entries

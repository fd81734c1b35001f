"""Storing logged media: encode on the caller's thread, write each file once under ``<run>/media/``."""

from __future__ import annotations

import os
import threading
from typing import Any

from tracker_core._values import Problem

__all__ = ["store_media"]


def _write_once(media_dir: str, name: str, data: bytes) -> None:
    """Write ``media_dir/name`` atomically unless it exists (names are content digests). Raises OSError."""
    path = os.path.join(media_dir, name)
    if os.path.exists(path):
        return
    temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"  # threads may store the same file at once
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def _store_one(value: Any, media_dir: str, key: str | None, problems: list[Problem] | None) -> dict[str, Any]:
    encoded = value.encode()
    if problems is not None:
        problems.extend(Problem(f"{key}, row {row}, column {column!r}", value, f"the cell was stored as null: {reason}")
                        for row, column, reason in encoded.skipped)
    for media_file in encoded.files:
        _write_once(media_dir, media_file.name, media_file.data)
    fields = {"kind": encoded.kind, **encoded.fields}
    if "file" in fields:
        fields["file"] = f"media/{fields['file']}"
    return fields


def store_media(value: Any, run_dir: str, key: str | None = None, problems: list[Problem] | None = None
                ) -> dict[str, Any]:
    """The record tag for a media value or a list of them, after writing their files.

    Table cells stored as null (their media could not be encoded) are appended to ``problems``
    as ``"<key>, row N, column 'c'"``, for the run to warn about.

    Raises:
        tracker_core.media.MediaError: the value cannot be encoded.
        OSError: a file cannot be written.
    """
    media_dir = os.path.join(run_dir, "media")
    os.makedirs(media_dir, exist_ok=True)
    if isinstance(value, (list, tuple)):
        return {"$m": {"kind": "list", "items": [_store_one(item, media_dir, key, problems) for item in value]}}
    return {"$m": _store_one(value, media_dir, key, problems)}

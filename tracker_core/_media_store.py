"""Storing logged media: encode on the caller's thread, write each file once under ``<run>/media/``."""

from __future__ import annotations

import os
import threading
from typing import Any

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


def _store_one(value: Any, media_dir: str) -> dict[str, Any]:
    encoded = value.encode()
    for media_file in encoded.files:
        _write_once(media_dir, media_file.name, media_file.data)
    fields = {"kind": encoded.kind, **encoded.fields}
    if "file" in fields:
        fields["file"] = f"media/{fields['file']}"
    return fields


def store_media(value: Any, run_dir: str) -> dict[str, Any]:
    """The record tag for a media value or a list of them, after writing their files.

    Raises:
        tracker_core.media.MediaError: the value cannot be encoded.
        OSError: a file cannot be written.
    """
    media_dir = os.path.join(run_dir, "media")
    os.makedirs(media_dir, exist_ok=True)
    if isinstance(value, (list, tuple)):
        return {"$m": {"kind": "list", "items": [_store_one(item, media_dir) for item in value]}}
    return {"$m": _store_one(value, media_dir)}

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
        problems.extend(Problem(f"{key}: {part}", value, f"the rest of the {encoded.kind} was stored: {reason}")
                        for part, reason in encoded.left_out)
    for media_file in encoded.files:
        _write_once(media_dir, media_file.name, media_file.data)
    fields = {"kind": encoded.kind, **encoded.fields}
    if "file" in fields:
        fields["file"] = f"media/{fields['file']}"
    return fields


def store_media(value: Any, run_dir: str, key: str | None = None, problems: list[Problem] | None = None
                ) -> dict[str, Any]:
    """The record tag for a media value or a list of them, after writing their files.

    What is left out is appended to ``problems``, for the run to warn about: table cells stored as
    null (their media could not be encoded) as ``"<key>, row N, column 'c'"``, malformed parts of a
    value stored without them (an image's mask layer) as ``"<key>: masks 'm'"``, and, with
    ``problems`` given, items of a list that cannot be encoded as ``"<key>[i]"``: the list keeps the
    others, in order, and its record lists the indexes left out in ``skipped``.

    Raises:
        tracker_core.media.MediaError: the value cannot be encoded (for a list: no item can, or one
            cannot and ``problems`` is None).
        OSError: a file cannot be written.
    """
    media_dir = os.path.join(run_dir, "media")
    os.makedirs(media_dir, exist_ok=True)
    if isinstance(value, (list, tuple)):
        return {"$m": _store_list(value, media_dir, key, problems)}
    return {"$m": _store_one(value, media_dir, key, problems)}


def _store_list(values: list[Any] | tuple[Any, ...], media_dir: str, key: str | None,
                problems: list[Problem] | None) -> dict[str, Any]:
    from tracker_core.media import MediaError

    items: list[dict[str, Any]] = []
    failed: list[tuple[int, Any, MediaError]] = []
    found: list[Problem] = []
    for index, item in enumerate(values):
        try:
            items.append(_store_one(item, media_dir, f"{key}[{index}]", found))
        except MediaError as error:
            if problems is None:
                raise
            failed.append((index, item, error))
    if failed and not items:
        raise failed[0][2]  # nothing to store: the key is left out, with the first item's reason
    if problems is not None:
        problems.extend(found)
        problems.extend(Problem(f"{key}[{index}]", item, f"the item was left out of the list (the other "
                                f"{len(items)} were stored): {error}") for index, item, error in failed)
    record: dict[str, Any] = {"kind": "list", "items": items}
    if failed:
        record["skipped"] = [index for index, _, _ in failed]
    return record

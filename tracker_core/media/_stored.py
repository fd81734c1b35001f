"""``StoredMedia``: a medium read back from stored files, that can be logged again as it was."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from tracker_core.media._base import EncodedMedia, Media, MediaFile, make_file
from tracker_core.media._errors import MediaError

__all__ = ["StoredMedia", "referenced_files", "stored_files"]


def referenced_files(fields: Mapping[str, Any]) -> list[str]:
    """The file names a medium's record fields name: its own ``file``, then its mask and box layers'."""
    names = [fields["file"]] if fields.get("file") else []
    for layers in (fields.get("masks") or {}, fields.get("boxes") or {}):
        names.extend(layer["file"] for layer in layers.values() if isinstance(layer, Mapping) and layer.get("file"))
    return names


def _safe(name: str) -> bool:
    return not name.startswith("/") and "\\" not in name and ".." not in name.split("/")


def stored_files(fields: Mapping[str, Any], run_dir: str) -> Iterator[tuple[str, str | None]]:
    """(path relative to ``run_dir``, sha256 where the fields give it) of every file a logged medium's
    record fields name: a list's items', its own file, its mask and box layers' (named beside it), and
    for a table the files of its media cells, read from the table's own file. A name that could leave
    the run's folder is skipped; a table file that cannot be read yields only itself."""
    if fields.get("kind") == "list":
        for item in fields.get("items") or ():
            if isinstance(item, Mapping):
                yield from stored_files(item, run_dir)
        return
    own = fields.get("file")
    if not isinstance(own, str) or not _safe(own):
        return
    yield own, fields.get("sha256") if isinstance(fields.get("sha256"), str) else None
    folder = os.path.dirname(own)
    for layers in (fields.get("masks"), fields.get("boxes")):
        for layer in (layers or {}).values() if isinstance(layers, Mapping) else ():
            name = layer.get("file") if isinstance(layer, Mapping) else None
            if isinstance(name, str) and _safe(name):
                digest = layer.get("sha256")
                yield os.path.join(folder, name), digest if isinstance(digest, str) else None
    if fields.get("kind") == "table":
        try:
            with open(os.path.join(run_dir, own), "rb") as file:
                table = orjson.loads(file.read())
        except (OSError, orjson.JSONDecodeError):
            return
        for row in table.get("data") or [] if isinstance(table, dict) else []:
            for cell in row if isinstance(row, list) else []:
                media = cell.get("$m") if isinstance(cell, dict) else None
                if isinstance(media, dict) and isinstance(media.get("file"), str):
                    for name, digest in stored_files({**media, "kind": None}, run_dir):
                        yield os.path.join(folder, name), digest


class StoredMedia(Media):
    """A medium as stored: its kind, record fields, and the bytes of the files they name.

    ``fields`` name files relative to ``folder``; they are read here (a copy), so ``encode()``
    gives back the same record and files, byte for byte. ``path`` is the main file.

    Raises:
        MediaError: a named file cannot be read.
    """

    kind = "stored"

    def __init__(self, kind: str, fields: Mapping[str, Any], folder: str) -> None:
        self.stored_kind = kind
        self.fields = dict(fields)
        self.path = os.path.join(folder, self.fields["file"]) if self.fields.get("file") else None
        self._files: list[MediaFile] = []
        for name in referenced_files(self.fields):
            try:
                with open(os.path.join(folder, name), "rb") as handle:
                    data = handle.read()
            except OSError as error:
                raise MediaError(f"stored {kind}", f"the file {name!r} ({error.strerror})", "a complete download") \
                    from None
            stored = make_file(data, name.split(".", 1)[1] if "." in name else "bin")
            if stored.name != name:
                raise MediaError(f"stored {kind}", f"the file {name!r}, whose content does not match its name",
                                 "an undamaged file")
            self._files.append(stored)

    def read_bytes(self) -> bytes:
        """The main file's bytes. Raises ValueError for a kind without a file."""
        if not self._files:
            raise ValueError(f"a {self.stored_kind} has no file")
        return self._files[0].data

    def encode(self) -> EncodedMedia:
        """The record and files exactly as they were stored."""
        return EncodedMedia(self.stored_kind, dict(self.fields), tuple(self._files))

    def __repr__(self) -> str:
        return f"StoredMedia({self.stored_kind}, {self.path or self.fields})"

"""``StoredMedia``: a medium read back from stored files, that can be logged again as it was."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tracker_core.media._base import EncodedMedia, Media, MediaFile, make_file
from tracker_core.media._errors import MediaError

__all__ = ["StoredMedia", "referenced_files"]


def referenced_files(fields: Mapping[str, Any]) -> list[str]:
    """The file names a medium's record fields name: its own ``file``, then its mask and box layers'."""
    names = [fields["file"]] if fields.get("file") else []
    for layers in (fields.get("masks") or {}, fields.get("boxes") or {}):
        names.extend(layer["file"] for layer in layers.values() if isinstance(layer, Mapping) and layer.get("file"))
    return names


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

"""Row encoding for the run: flat logged rows, media references, and trees that may hold media.

Scalars and trees are encoded by ``tracker_core._values`` (NaN, ±Inf and big integers as
one-key tags, "$" keys escaped in trees); this module adds what knows about media:

A logged media value (Image, Table, ...) is stored as a file by the run and written as
``{"$m": {"kind": ..., "file": "media/<sha256>.<ext>", "sha256": ..., ...}}``; it reads
back as a ``MediaRef``.

Logged rows are flat (nested dicts are flattened with "/"), so a dict value in a row is always
a tag. Imports point one way: this module -> ``tracker_core.media`` (lazily, when a value needs
it) -> ``tracker_core._values``; the media encoders never import this module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from tracker_core._values import (
    Problem,
    _Rejected,
    tag_number,
    to_scalar,
    to_tree,
    untag_number,
    valid_text,
)
from tracker_core._values import decode_tree as _decode_plain_tree
from tracker_core._values import encode_tree as _encode_plain_tree

__all__ = ["ACCEPTED_SCALARS", "RESERVED_KEYS", "MediaRef", "Problem", "decode_row", "decode_tree", "encode_tree",
           "is_media", "normalize_row", "plain_row", "tag_row", "tag_scalar", "to_scalar", "to_tree", "untag"]

ACCEPTED_SCALARS = (
    "int, float, bool, str, None, NumPy scalars, 0-d NumPy arrays or torch tensors, "
    "and dicts of these (flattened with '/')"
)
RESERVED_KEYS = frozenset({"_step", "_timestamp", "_runtime"})


def _key_problem(key: object) -> str | None:
    if type(key) is not str and not isinstance(key, str):
        return f"a key of type {type(key).__name__}; keys must be non-empty strings"
    if not key:
        return "an empty key; keys must be non-empty strings"
    if key in RESERVED_KEYS:
        return f"the reserved key {key!r}"
    if not valid_text(key):
        return "a key that is not valid Unicode (a lone surrogate)"
    return None


_GOOD_KEYS: set[str] = set()  # keys already found valid: one set lookup per key on the hot path


def _remember_good_key(key: object) -> bool:
    if type(key) is not str or not key or key in RESERVED_KEYS or not valid_text(key):
        return False
    if len(_GOOD_KEYS) < 100_000:
        _GOOD_KEYS.add(key)
    return True


_PLAIN = frozenset({float, int, str, bool, type(None)})


def plain_row(data: dict[Any, Any]) -> dict[str, Any] | None:
    """``data`` itself when it is already a row as logged: known-good keys, plain scalars (ASCII text),
    every float finite; None when ``normalize_row`` has to look (a new key, NaN, a nested dict, ...).

    The hot path of ``log()``: it allocates nothing.
    """
    good_keys = _GOOD_KEYS
    for key, value in data.items():
        kind = type(value)
        if kind is float:
            if value - value:  # NaN or ±Inf: x - x is NaN (truthy), not 0.0
                return None
        elif kind not in _PLAIN or (kind is str and not value.isascii()):
            return None
        if key not in good_keys:
            return None
    return data


def normalize_row(data: Mapping[Any, Any]) -> tuple[dict[str, Any], list[Problem], bool]:
    """Flatten and check one logged row.

    Returns ``(row, problems, nonfinite)``: ``row`` maps string keys to plain scalars (it is
    ``data`` itself when nothing needed changing), ``problems`` lists the keys left out, and
    ``nonfinite`` says whether a float is NaN or ±Inf (to be tagged with ``tag_row``).
    Integers beyond 64 bits are left to the writer, which orjson makes fail loudly.
    """
    nonfinite = False
    good_keys = _GOOD_KEYS
    for key, value in data.items():
        kind = type(value)
        if kind is float:
            if value - value:  # NaN or ±Inf: x - x is NaN (truthy), not 0.0
                nonfinite = True
        elif kind not in _PLAIN or (kind is str and not value.isascii()):  # non-ASCII text: checked slowly
            break
        if key not in good_keys and not _remember_good_key(key):
            break
    else:
        return data, [], nonfinite  # type: ignore[return-value]  # the fast path: already flat and plain
    row: dict[str, Any] = {}
    problems: list[Problem] = []
    _flatten_into(row, problems, "", data)
    return row, problems, any((type(v) is float and v - v) or is_media(v) for v in row.values())


def is_media(value: object) -> bool:
    """A tracker_core.media value (Image, Table, ...), or a non-empty list of them."""
    if isinstance(value, (list, tuple)):
        return bool(value) and all(is_media(item) and not isinstance(item, (list, tuple)) for item in value)
    return any((cls.__module__ or "").startswith("tracker_core.media") for cls in type(value).__mro__[:-1])


def _is_matplotlib(value: object) -> bool:
    """The ``matplotlib.pyplot`` module itself, or a matplotlib object (a Figure, Axes, ...)."""
    if type(value) is ModuleType:
        return getattr(value, "__name__", "") == "matplotlib.pyplot"
    return (type(value).__module__ or "").startswith("matplotlib.")


def _flatten_into(row: dict[str, Any], problems: list[Problem], prefix: str, data: Mapping[Any, Any]) -> None:
    for key, value in data.items():
        reason = _key_problem(key)
        if reason:
            problems.append(Problem(prefix + str(key), value, reason))
            continue
        full = prefix + str(key)
        if isinstance(value, Mapping):
            _flatten_into(row, problems, full + "/", value)
            continue
        if is_media(value):  # encoded and stored by the run, outside this pure module
            row[full] = value
            continue
        if _is_matplotlib(value):  # log({"chart": plt}) or a Figure: stored as an image, as W&B does without plotly
            from tracker_core.media import Image

            row[full] = Image(value)
            continue
        try:
            row[full] = to_scalar(value)
        except _Rejected as rejected:
            problems.append(Problem(full, value, rejected.reason))


def tag_scalar(value: object) -> object:
    """A JSON-safe stand-in for NaN, ±Inf, integers beyond 64 bits and read-back media; others unchanged."""
    if isinstance(value, MediaRef):
        return value.tag()
    return tag_number(value)


def tag_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Copy of a flat row with every special number tagged."""
    return {key: tag_scalar(value) for key, value in row.items()}


class MediaRef:
    """A logged media value as read back: its kind, its record fields, and the file they name.

    ``path`` is absolute when the run folder is known; ``read_bytes()`` opens the file;
    ``rows()`` and ``columns`` give a table's content.
    """

    def __init__(self, fields: Mapping[str, Any], base: str | None = None) -> None:
        self.fields = dict(fields)
        self.kind: str = self.fields.get("kind", "media")
        self._base = base

    @property
    def path(self) -> str | None:
        name = self.fields.get("file")
        if not name:
            return None
        return os.path.join(self._base, name) if self._base else name

    def read_bytes(self) -> bytes:
        """The stored file; raises OSError if it is missing, ValueError for a kind without a file."""
        if self.path is None:
            raise ValueError(f"a {self.kind} has no file")
        with open(self.path, "rb") as handle:
            return handle.read()

    def rebase(self, base: str) -> None:
        """Resolve the file under ``base`` (the run folder)."""
        self._base = base

    @property
    def masks(self) -> dict[str, MediaRef]:
        """An image's mask layers (kind "mask": a grayscale PNG of class ids; ``fields["class_labels"]``)."""
        return self._layers("masks", "mask")

    @property
    def boxes(self) -> dict[str, MediaRef]:
        """An image's box layers (kind "boxes": JSON ``{"box_data", "class_labels"}``)."""
        return self._layers("boxes", "boxes")

    def _layers(self, name: str, kind: str) -> dict[str, MediaRef]:
        here = os.path.dirname(self.path or "") or None  # layer files lie beside the image's own
        return {key: MediaRef({"kind": kind, **fields}, here) for key, fields in (self.fields.get(name) or {}).items()}

    @property
    def items(self) -> list[MediaRef]:
        """The members of a logged list of media."""
        return [MediaRef(item, self._base) for item in self.fields.get("items", [])]

    def rows(self) -> list[list[Any]]:
        """A table's rows (cells decoded; media cells as MediaRef)."""
        return self._table()[1]

    @property
    def columns(self) -> list[str]:
        return self._table()[0]

    def _table(self) -> tuple[list[str], list[list[Any]]]:
        if self.kind != "table":
            raise ValueError(f"a {self.kind} is not a table")
        from tracker_core.media import decode_table

        columns, rows = decode_table(self.read_bytes())
        here = os.path.dirname(self.path or "")  # cells name files beside the table's own file
        return columns, [[MediaRef(c["$m"], here) if _is_media_tag(c) else c for c in row] for row in rows]

    def tag(self) -> dict[str, Any]:
        return {"$m": self.fields}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MediaRef) and other.fields == self.fields

    def __hash__(self) -> int:
        return hash(self.fields.get("sha256") or id(self))

    def __repr__(self) -> str:
        return f"MediaRef({self.kind}, {self.path or self.fields})"


def _is_media_tag(value: object) -> bool:
    return type(value) is dict and len(value) == 1 and "$m" in value


def untag(value: object, base: str | None = None) -> object:
    """Inverse of ``tag_scalar`` (and of media tags) for one JSON value."""
    if type(value) is dict and len(value) == 1 and "$m" in value:
        return MediaRef(value["$m"], base)
    return untag_number(value)


def decode_row(row: Mapping[str, Any], base: str | None = None) -> dict[str, Any]:
    """Inverse of ``tag_row``; media paths are made absolute under ``base`` (the run folder)."""
    return {key: untag(value, base) for key, value in row.items()}


def encode_tree(value: object) -> object:
    """JSON-safe form of a plain tree: special numbers and read-back media tagged, "$" keys escaped."""
    return _encode_plain_tree(value, tag_scalar)


def decode_tree(value: object) -> object:
    """Inverse of ``encode_tree``; media tags become ``MediaRef``."""
    return _decode_plain_tree(value, untag)

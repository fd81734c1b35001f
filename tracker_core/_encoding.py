"""Pure value encoding: user data -> plain Python values -> JSON-safe values, and back.

JSON has no NaN, no infinities and (in orjson) no integers beyond 64 bits, so those
are written as one-key tag objects and round-trip exactly:

    float("nan") -> {"$f": "nan"}     float("inf") -> {"$f": "inf"}
    2**70        -> {"$i": "1180591620717411303424"}

A logged media value (Image, Table, ...) is stored as a file by the run and written as
``{"$m": {"kind": ..., "file": "media/<sha256>.<ext>", "sha256": ..., ...}}``; it reads
back as a ``MediaRef``.

Logged rows are flat (nested dicts are flattened with "/"), so a dict value in a
row is always a tag. Trees (config, summary) may hold user dicts: there, a user
key starting with "$" is escaped by doubling the "$", so a one-key dict whose key
is "$f", "$i" or "$m" is always a tag.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

ACCEPTED_SCALARS = (
    "int, float, bool, str, None, NumPy scalars, 0-d NumPy arrays or torch tensors, "
    "and dicts of these (flattened with '/')"
)
RESERVED_KEYS = frozenset({"_step", "_timestamp", "_runtime"})

_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_INFINITIES = (math.inf, -math.inf)


class Problem(NamedTuple):
    """A key or value that was left out of a row, and why."""

    key: object
    value: object
    reason: str


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def to_scalar(value: object) -> object:
    """Convert a loggable value to int/float/bool/str/None.

    Raises:
        _Rejected: the value is not a scalar the tracker accepts.
    """
    if type(value) is str or isinstance(value, str):
        if not _valid_text(value):
            raise _Rejected("a string that is not valid Unicode (a lone surrogate, e.g. from os.fsdecode)")
        return str(value)
    if value is None or type(value) in (bool, int, float):
        return value
    for plain in (bool, int, float):  # subclasses such as IntEnum or numpy.float64
        if isinstance(value, plain):
            return plain(value)
    module = type(value).__module__ or ""
    if module == "numpy" or module.startswith("torch"):
        shape = getattr(value, "shape", ())
        if len(shape) == 0 and hasattr(value, "item"):
            return to_scalar(value.item())
        raise _Rejected(f"an array or tensor of shape {tuple(shape)} in a scalar slot")
    if isinstance(value, (list, tuple, set, frozenset)):
        raise _Rejected(f"a {type(value).__name__} in a scalar slot")
    raise _Rejected(f"a value of type {type(value).__name__}")


def _key_problem(key: object) -> str | None:
    if type(key) is not str and not isinstance(key, str):
        return f"a key of type {type(key).__name__}; keys must be non-empty strings"
    if not key:
        return "an empty key; keys must be non-empty strings"
    if key in RESERVED_KEYS:
        return f"the reserved key {key!r}"
    if not _valid_text(key):
        return "a key that is not valid Unicode (a lone surrogate)"
    return None


_GOOD_KEYS: set[str] = set()  # keys already found valid: one set lookup per key on the hot path


def _valid_text(text: str) -> bool:
    """False for strings UTF-8 cannot encode (lone surrogates), which would fail the whole record."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _remember_good_key(key: object) -> bool:
    if type(key) is not str or not key or key in RESERVED_KEYS or not _valid_text(key):
        return False
    if len(_GOOD_KEYS) < 100_000:
        _GOOD_KEYS.add(key)
    return True


_PLAIN = frozenset({float, int, str, bool, type(None)})


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
        try:
            row[full] = to_scalar(value)
        except _Rejected as rejected:
            problems.append(Problem(full, value, rejected.reason))


def tag_scalar(value: object) -> object:
    """A JSON-safe stand-in for NaN, ±Inf and integers beyond 64 bits; others unchanged."""
    if isinstance(value, MediaRef):
        return value.tag()
    if type(value) is float:
        if value != value:
            return {"$f": "nan"}
        if value in _INFINITIES:
            return {"$f": "inf" if value > 0 else "-inf"}
    elif type(value) is int and not _INT_MIN <= value <= _INT_MAX:
        return {"$i": str(value)}
    return value


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
    if type(value) is dict and len(value) == 1:
        if "$f" in value:
            return float(value["$f"])
        if "$i" in value:
            return int(value["$i"])
        if "$m" in value:
            return MediaRef(value["$m"], base)
    return value


def decode_row(row: Mapping[str, Any], base: str | None = None) -> dict[str, Any]:
    """Inverse of ``tag_row``; media paths are made absolute under ``base`` (the run folder)."""
    return {key: untag(value, base) for key, value in row.items()}


def to_tree(value: object, problems: list[Problem], path: str = "") -> object:
    """Convert config-like data to plain dicts, lists and scalars.

    Accepts mappings, lists, tuples, dataclasses, argparse-style namespaces and
    objects with ``to_dict()``; anything else is reported in ``problems`` and left out.
    Raises ``_Rejected`` only for the top value itself.
    """
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            full = f"{path}.{key}" if path else str(key)
            if not isinstance(key, str) or not key or not _valid_text(key):
                problems.append(Problem(full, item, "keys must be non-empty, valid Unicode strings"))
                continue
            try:
                out[str(key)] = to_tree(item, problems, full)
            except _Rejected as rejected:
                problems.append(Problem(full, item, rejected.reason))
        return out
    if isinstance(value, (list, tuple)):
        items = []
        for index, item in enumerate(value):
            try:
                items.append(to_tree(item, problems, f"{path}[{index}]"))
            except _Rejected as rejected:
                problems.append(Problem(f"{path}[{index}]", item, rejected.reason))
        return items
    if hasattr(type(value), "__dataclass_fields__") and not isinstance(value, type):
        import dataclasses

        return to_tree(dataclasses.asdict(value), problems, path)  # type: ignore[call-overload]
    if type(value).__name__ == "Namespace" and hasattr(value, "__dict__"):
        return to_tree(vars(value), problems, path)
    if callable(getattr(value, "to_dict", None)) and not isinstance(value, type):
        return to_tree(value.to_dict(), problems, path)  # type: ignore[attr-defined]
    module = type(value).__module__ or ""
    if (module == "numpy" or module.startswith("torch")) and hasattr(value, "tolist"):
        return to_tree(value.tolist(), problems, path)
    return to_scalar(value)


def encode_tree(value: object) -> object:
    """JSON-safe form of a plain tree: special numbers tagged, "$" keys escaped."""
    if type(value) is dict:
        return {("$" + k if k.startswith("$") else k): encode_tree(v) for k, v in value.items()}
    if type(value) is list:
        return [encode_tree(v) for v in value]
    return tag_scalar(value)


def decode_tree(value: object) -> object:
    """Inverse of ``encode_tree``."""
    if type(value) is dict:
        if len(value) == 1 and ("$f" in value or "$i" in value or "$m" in value):
            return untag(value)
        return {(k[1:] if k.startswith("$") else k): decode_tree(v) for k, v in value.items()}
    if type(value) is list:
        return [decode_tree(v) for v in value]
    return value

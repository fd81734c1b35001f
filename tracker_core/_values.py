"""Pure value encoding shared by the run and the media encoders: scalars and trees, no media.

User values become plain Python values (``to_scalar``, ``to_tree``), and plain values become
JSON-safe ones (``encode_tree``) and back (``decode_tree``). JSON has no NaN, no infinities and
(in orjson) no integers beyond 64 bits, so those are written as one-key tag objects:

    float("nan") -> {"$f": "nan"}     float("inf") -> {"$f": "inf"}
    2**70        -> {"$i": "1180591620717411303424"}

In trees a user key starting with "$" is escaped by doubling the "$", so a one-key dict whose
key is "$f", "$i" or "$m" is always a tag. This module knows no media: a ``{"$m": ...}`` tag is
left as it is here (``tracker_core._encoding`` turns it into a ``MediaRef``). It imports nothing
from the rest of the package, so ``tracker_core.media`` can depend on it without a loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

__all__ = ["Problem", "config_key", "decode_tree", "encode_tree", "tag_number", "to_scalar", "to_tree",
           "untag_number", "valid_text"]

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


def valid_text(text: str) -> bool:
    """False for strings UTF-8 cannot encode (lone surrogates), which would fail the whole record."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def to_scalar(value: object) -> object:
    """Convert a loggable value to int/float/bool/str/None.

    Raises:
        _Rejected: the value is not a scalar the tracker accepts.
    """
    if type(value) is str or isinstance(value, str):
        if not valid_text(value):
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


def config_key(key: object) -> str | None:
    """A tree key as W&B writes it: ``str(key)`` for ints, floats, bools, None and NumPy scalars
    (``{3: 4}`` and ``np.int64(22)`` become "3" and "22"); None for other keys and for empty or
    invalid text."""
    if isinstance(key, str):
        text = str(key)
    elif key is None or isinstance(key, (int, float)) or (
            (type(key).__module__ or "") == "numpy" and len(getattr(key, "shape", (1,))) == 0):
        text = str(key.item() if hasattr(key, "item") else key)
    else:
        return None
    return text if text and valid_text(text) else None


def _complex_text(value: object) -> str | None:
    """``str(value)`` for Python and NumPy complex numbers (W&B writes them as text), else None."""
    if isinstance(value, complex) or ((type(value).__module__ or "") == "numpy"
                                      and getattr(getattr(value, "dtype", None), "kind", "") == "c"
                                      and len(getattr(value, "shape", ())) == 0):
        return str(value)
    return None


def to_tree(value: object, problems: list[Problem], path: str = "") -> object:
    """Convert config-like data to plain dicts, lists and scalars.

    Accepts mappings, lists, tuples, dataclasses, argparse-style namespaces and objects with
    ``to_dict()``. Keys that are not strings become strings as in W&B (``config_key``); complex
    numbers become text. Anything else is reported in ``problems`` and left out.
    Raises ``_Rejected`` only for the top value itself.
    """
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = config_key(key)
            full = f"{path}.{name if name is not None else key}" if path else str(name if name is not None else key)
            if name is None:
                problems.append(Problem(full, item, "keys must be non-empty, valid Unicode strings or numbers"))
                continue
            try:
                out[name] = to_tree(item, problems, full)
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
    text = _complex_text(value)
    if text is not None:
        return text
    module = type(value).__module__ or ""
    if (module == "numpy" or module.startswith("torch")) and hasattr(value, "tolist") \
            and len(getattr(value, "shape", ())) > 0:
        return to_tree(value.tolist(), problems, path)
    return to_scalar(value)


def tag_number(value: object) -> object:
    """A JSON-safe stand-in for NaN, ±Inf and integers beyond 64 bits; others unchanged."""
    if type(value) is float:
        if value != value:
            return {"$f": "nan"}
        if value in _INFINITIES:
            return {"$f": "inf" if value > 0 else "-inf"}
    elif type(value) is int and not _INT_MIN <= value <= _INT_MAX:
        return {"$i": str(value)}
    return value


def untag_number(value: object) -> object:
    """Inverse of ``tag_number`` for one JSON value; anything else (a media tag too) unchanged."""
    if type(value) is dict and len(value) == 1:
        if "$f" in value:
            return float(value["$f"])
        if "$i" in value:
            return int(value["$i"])
    return value


def encode_tree(value: object, tag: Callable[[object], object] = tag_number) -> object:
    """JSON-safe form of a plain tree: leaves passed through ``tag``, "$" keys escaped."""
    if type(value) is dict:
        return {("$" + k if k.startswith("$") else k): encode_tree(v, tag) for k, v in value.items()}
    if type(value) is list:
        return [encode_tree(v, tag) for v in value]
    return tag(value)


def decode_tree(value: object, untag: Callable[[object], object] = untag_number) -> object:
    """Inverse of ``encode_tree``: tags passed to ``untag``, "$" keys unescaped."""
    if type(value) is dict:
        if len(value) == 1 and ("$f" in value or "$i" in value or "$m" in value):
            return untag(value)
        return {(k[1:] if k.startswith("$") else k): decode_tree(v, untag) for k, v in value.items()}
    if type(value) is list:
        return [decode_tree(v, untag) for v in value]
    return value

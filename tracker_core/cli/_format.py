"""Turning values and rows into text that fits an 80-column terminal."""

from __future__ import annotations

import datetime
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from tracker_core._encoding import MediaRef

WIDTH = 80


def value_text(value: Any, digits: int = 5) -> str:
    """A short, readable form of one value."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.{digits}g}"
    if isinstance(value, datetime.datetime):
        return value.astimezone().strftime("%m-%d %H:%M")
    if isinstance(value, (list, tuple)):
        return ",".join(value_text(v, digits) for v in value)
    return str(value)


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int = WIDTH, keep_first: bool = True) -> str:
    """Columns sized to their content; the widest ones shrink until the table fits ``width``.

    The first column (a run id, a key) is never clipped when ``keep_first``.
    """
    sizes = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    first = 1 if keep_first and len(sizes) > 1 else 0
    while sum(sizes) + 2 * (len(sizes) - 1) > width and max(sizes[first:]) > 3:
        widest = max(range(first, len(sizes)), key=lambda i: sizes[i])
        sizes[widest] -= 1
    lines = ["  ".join(clip(h, s).ljust(s) for h, s in zip(headers, sizes, strict=True)).rstrip(),
             "  ".join("-" * s for s in sizes)]
    lines += ["  ".join(clip(c, s).ljust(s) for c, s in zip(row, sizes, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def pairs(mapping: Mapping[str, Any], width: int = WIDTH, indent: str = "  ") -> str:
    """``key  value`` lines, keys aligned, values clipped to the width."""
    if not mapping:
        return f"{indent}(none)"
    key_width = min(max(len(k) for k in mapping), 32)
    return "\n".join(f"{indent}{clip(k, key_width).ljust(key_width)}  "
                     f"{clip(value_text(v), width - key_width - len(indent) - 2)}" for k, v in mapping.items())


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as ``a.b.c`` keys."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def json_default(value: Any) -> Any:
    """Media as their record fields; anything else orjson and json do not know (datetimes) as text."""
    return value.fields if isinstance(value, MediaRef) else str(value)


def emit_json(data: Any) -> None:
    """``data`` as indented JSON on standard output."""
    try:
        text = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS,
                            default=json_default).decode()
    except TypeError:  # an integer beyond 64 bits: the standard library writes it exactly
        import json

        text = json.dumps(data, indent=2, default=json_default) + "\n"
    sys.stdout.write(text)


def print_rows(rows: Sequence[Mapping[str, Any]], as_json: bool, what: str, headers: Sequence[str],
               cells: Callable[[Mapping[str, Any]], Sequence[str]]) -> int:
    """A listing command's output: the rows as JSON, or a table of ``cells(row)``; exit 1 (and ``no <what>``
    on standard error) when there are none, else 0."""
    if as_json:
        emit_json(list(rows))
        return 0 if rows else 1
    if not rows:
        print(f"tracker: no {what}", file=sys.stderr)
        return 1
    print(table(headers, [cells(row) for row in rows]))
    return 0

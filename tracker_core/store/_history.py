"""A run's history, read straight from its log: only rows and rewinds are parsed."""

from __future__ import annotations

from typing import Any

import orjson

from tracker_core._encoding import decode_row
from tracker_core.store._log import read_log

__all__ = ["read_history"]


def read_history(path: str) -> list[dict[str, Any]]:
    """Every row, merged by step, in step order, each with ``_step`` and ``_timestamp``.

    A ``rewind`` record drops the rows of later steps written before it. A torn last line
    and undecodable lines are skipped. Raises OSError if the log cannot be read.
    """
    lines = read_log(path).split(b"\n")
    lines.pop()  # the empty piece after the last newline, or a torn tail
    rows: dict[int, dict[str, Any]] = {}
    loads = orjson.loads
    for line in lines:
        if b'"type":"log"' in line:  # a cheap filter; the parsed type decides
            try:
                record = loads(line)
            except orjson.JSONDecodeError:
                continue
            if record.get("type") != "log":
                continue
            data = record["data"]
            if b'{"$' in line:
                data = decode_row(data)
            step = record["step"]
            row = rows.get(step)
            if row is None:  # the record's own dict becomes the row: one allocation less per row
                rows[step] = row = data
                row["_step"] = step
            else:
                row.update(data)
            row["_timestamp"] = record["t"]
        elif b'"type":"rewind"' in line:
            try:
                record = loads(line)
            except orjson.JSONDecodeError:
                continue
            if record.get("type") == "rewind":
                last_kept = record["step"]
                rows = {step: row for step, row in rows.items() if step <= last_kept}
    return [rows[step] for step in sorted(rows)]

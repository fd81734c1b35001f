"""A batch's plain ``log`` records folded a column at a time: the same state as folding them one by one.

A stretch of consecutive ``log`` records whose ``data`` objects have the same keys in the same order,
every value of each key a float (or every one an integer within 2^53), with steps strictly rising
past what the buffer already holds, is folded as columns: the summary takes the last row, the extremes
the first minimum and maximum of each column, the series buffer the columns as they are. Anything else
(text, booleans, tagged NaN or media, repeated steps, defined metrics, kept rows) is left to the
per-record fold, which is what ``fold_columns`` answers ``False`` for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracker_core.store._replay import RunState
from tracker_server._series import Points, SeriesBuffer

__all__ = ["MIN_STRETCH", "fold_columns", "stretch_end"]

MIN_STRETCH = 16  # shorter stretches cost more as columns than record by record
_EXACT_INT = 1 << 53


def stretch_end(records: list[dict[str, Any]], start: int) -> int:
    """The end of the stretch of ``log`` records from ``start`` whose data has the keys of the first, in order
    (``start`` itself when that record is no ``log`` with a data object)."""
    first = records[start]
    data = first.get("data")
    if first["type"] != "log" or type(data) is not dict:
        return start
    keys = tuple(data)
    end = start + 1
    for record in records[start + 1:]:
        data = record.get("data")
        if record["type"] != "log" or type(data) is not dict or tuple(data) != keys:
            break
        end += 1
    return end


def _column_kind(column: tuple[Any, ...]) -> bool | None:
    """Whether the column holds integers (True) or floats (False); None when it is neither throughout."""
    kinds = set(map(type, column))
    if kinds == {float}:
        return False
    if kinds == {int} and min(column) >= -_EXACT_INT and max(column) <= _EXACT_INT:
        return True
    return None


def fold_columns(state: RunState, series: SeriesBuffer, records: list[dict[str, Any]]) -> bool:
    """Fold ``records`` (a stretch from ``stretch_end``) into ``state`` and ``series`` as columns; returns False,
    changing nothing, when they need the per-record fold."""
    if state.keep_rows or state.rules.active:
        return False
    rows = [record["data"] for record in records]
    keys = tuple(rows[0])
    columns = list(zip(*[tuple(row.values()) for row in rows], strict=True)) if keys else []
    kinds = [_column_kind(column) for column in columns]
    if None in kinds:
        return False
    arrays = [np.array(column, np.float64) for column in columns]
    if any(np.isnan(values).any() for values in arrays):  # not from JSON; NaN never counts in the extremes
        return False
    steps: list[int] = []
    times: list[float] = []
    next_step = state.next_step
    for record in records:
        step = record.get("step")
        if type(step) is not int:
            step = next_step
        if steps and step <= steps[-1]:  # a step again or back: the series buffer merges those
            return False
        if step >= next_step:
            next_step = step + 1
        steps.append(step)
        stamp = record.get("t")
        times.append(float(stamp) if isinstance(stamp, (int, float)) else 0.0)
    held = [series.points.get(key) for key in keys]
    if any(points is not None and points.steps and points.steps[-1] >= steps[0] for points in held):
        return False
    _fold_envelopes(state, records)
    state.next_step = next_step
    if keys:
        state.summary.last.update(rows[-1])
    for key, column, values, as_int, points in zip(keys, columns, arrays, kinds, held, strict=True):
        _fold_extremes(state.extremes, key, column, values, steps)
        if points is None:
            points = series.points[key] = Points()
        points.steps.extend(steps)
        points.times.extend(times)
        points.values.extend(values.tolist() if as_int else column)
        points.all_int = points.all_int and bool(as_int)
    return True


def _fold_envelopes(state: RunState, records: list[dict[str, Any]]) -> None:
    """``RunState.apply``'s seq and time bookkeeping for ``log`` records."""
    for record in records:
        seq = record.get("seq")
        if type(seq) is int:
            if seq != state.last_seq + 1:
                state.seq_gaps += 1
            state.last_seq = seq
        t = record.get("t")
        if type(t) is float or type(t) is int:
            if state.first_t is None:
                state.first_t = t
            state.last_t = t


def _fold_extremes(extremes: dict[str, list[Any]], key: str, column: tuple[Any, ...], values: np.ndarray,
                   steps: list[int]) -> None:
    """The column's first minimum and first maximum (``values``, without NaN) against the key's so far."""
    low, high = int(np.argmin(values)), int(np.argmax(values))
    best = extremes.get(key)
    if best is None:
        extremes[key] = [column[low], steps[low], column[high], steps[high]]
        return
    if column[low] < best[0]:
        best[0], best[1] = column[low], steps[low]
    if column[high] > best[2]:
        best[2], best[3] = column[high], steps[high]

"""History series: each (run, key) stored as chunks of packed arrays, read back whole or in buckets.

A chunk holds up to ``CHUNK_POINTS`` points: int64 steps, float64 times and float64 values
(little-endian). Values that are not plain numbers (text, booleans, media, integers beyond
2^53) keep their log encoding in the chunk's ``extra`` map, by position. A key logged twice
at one step keeps the later value, as the local history merges rows by step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson
from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

from tracker_server._models import SeriesChunk
from tracker_server._series_blocks import BLOCK, BLOCK_POINTS, bucket_starts, merge_blocks, summarize

__all__ = ["CHUNK_POINTS", "Points", "SeriesBuffer", "bucketize", "bucketize_blocks", "load_blocks", "load_series"]

CHUNK_POINTS = 8192
OPEN_CHUNKS = 8  # at most this many chunks short of CHUNK_POINTS end a series
SMALL_TAIL = 512  # a last chunk this short takes the next points in rather than a chunk of their own
_EXACT_INT = 1 << 53
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _number(value: Any) -> tuple[float | None, bool]:
    """(the value as a float, whether it is an integer), or (None, False) when it is no plain number."""
    kind = type(value)
    if kind is float:
        return value, False
    if kind is int:
        return (float(value), True) if -_EXACT_INT <= value <= _EXACT_INT else (None, False)
    if kind is dict and len(value) == 1 and "$f" in value:
        number = _NON_FINITE.get(value["$f"])
        return number, False
    return None, False


class Points:
    """One key's points in memory: parallel lists, plus the non-numbers by position."""

    __slots__ = ("all_int", "extra", "steps", "times", "values")

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.times: list[float] = []
        self.values: list[float] = []
        self.extra: dict[int, Any] = {}
        self.all_int = True

    def add(self, step: int, t: float, value: Any) -> None:
        steps = self.steps
        if type(value) is float and (not steps or steps[-1] != step):  # the usual case, kept short
            steps.append(step)
            self.times.append(t)
            self.values.append(value)
            self.all_int = False
            return
        number, is_int = _number(value)
        if steps and steps[-1] == step:  # the same step again: the later value wins
            index = len(steps) - 1
            self.times[index] = t
            self.extra.pop(index, None)
        else:
            index = len(steps)
            steps.append(step)
            self.times.append(t)
            self.values.append(0.0)
        if number is None:
            self.values[index] = math.nan
            self.extra[index] = value
        else:
            self.values[index] = number
            self.all_int = self.all_int and is_int

    def truncate(self, last_kept: int) -> None:
        """Drop the points after step ``last_kept`` (a rewind)."""
        keep = sum(1 for step in self.steps if step <= last_kept) if self.steps and self.steps[-1] > last_kept \
            else len(self.steps)
        del self.steps[keep:], self.times[keep:], self.values[keep:]
        self.extra = {i: v for i, v in self.extra.items() if i < keep}

    @classmethod
    def from_chunk(cls, chunk: Any) -> Points:
        points = cls()
        points.steps = np.frombuffer(chunk.steps, "<i8").tolist()
        points.times = np.frombuffer(chunk.times, "<f8").tolist()
        points.values = np.frombuffer(chunk.values, "<f8").tolist()
        points.extra = {int(i): v for i, v in orjson.loads(chunk.extra).items()} if chunk.extra else {}
        points.all_int = chunk.all_int
        return points

    def rows(self, run_pk: int, key: str, first_chunk: int) -> list[dict[str, Any]]:
        return _chunk_rows(run_pk, key, first_chunk, np.asarray(self.steps, "<i8"), np.asarray(self.times, "<f8"),
                           np.asarray(self.values, "<f8"), self.extra, self.all_int)


def _chunk_rows(run_pk: int, key: str, first_chunk: int, steps: np.ndarray, times: np.ndarray, values: np.ndarray,
                extra: dict[int, Any], all_int: bool) -> list[dict[str, Any]]:
    """The ``series_chunks`` rows of one key's points, ``CHUNK_POINTS`` a row from chunk ``first_chunk`` on,
    each with its block summaries."""
    rows = []
    numeric = np.ones(len(steps), bool)
    if extra:
        numeric[list(extra)] = False
    for number, start in enumerate(range(0, len(steps), CHUNK_POINTS)):
        end = min(start + CHUNK_POINTS, len(steps))
        part = {str(i - start): v for i, v in extra.items() if start <= i < end}
        rows.append({"run_pk": run_pk, "key": key, "chunk": first_chunk + number, "count": end - start,
                     "first_step": int(steps[start]), "last_step": int(steps[end - 1]),
                     "steps": steps[start:end].tobytes(), "times": times[start:end].tobytes(),
                     "values": values[start:end].tobytes(), "all_int": all_int,
                     "extra": orjson.dumps(part).decode() if part else None,
                     "blocks": summarize(steps[start:end], values[start:end], numeric[start:end])})
    return rows


class SeriesBuffer:
    """The points of one batch (or of a whole rebuild), appended to the stored series by ``flush``."""

    def __init__(self) -> None:
        self.points: dict[str, Points] = {}

    def add_row(self, step: int, t: float, row: dict[str, Any]) -> None:
        points = self.points
        for key, value in row.items():
            found = points.get(key)
            if found is None:
                found = points[key] = Points()
            steps = found.steps
            if type(value) is float and (not steps or steps[-1] != step):  # Points.add's usual case, inlined
                steps.append(step)
                found.times.append(t)
                found.values.append(value)
                found.all_int = False
            else:
                found.add(step, t, value)

    def rewind(self, last_kept: int) -> None:
        for points in self.points.values():
            points.truncate(last_kept)

    def flush(self, session: Session, run_pk: int) -> None:
        """Append every key's points to its stored series. A batch's points become a chunk of their own; a
        last chunk under ``SMALL_TAIL`` points takes them in instead, and once a series ends in
        ``OPEN_CHUNKS`` chunks short of ``CHUNK_POINTS`` (or those and the new points fill one) they are packed
        into full chunks. So a point is written about twice, not once per batch until its chunk is full; reads
        meet at most ``OPEN_CHUNKS`` short chunks a series. One query reads the keys' last chunks' sizes, one
        the arrays of the chunks that are rewritten; one statement deletes those, one inserts."""
        fresh = {key: points for key, points in self.points.items() if points.steps}
        if not fresh:
            return
        ends = _ends(session, run_pk, list(fresh))
        inserts: list[dict[str, Any]] = []
        rewrite: dict[str, int] = {}  # key -> the first of its chunks to rewrite with the new points
        for key, new in fresh.items():
            chunks = ends.get(key)
            if not chunks:
                inserts += new.rows(run_pk, key, 0)
                continue
            last = chunks[-1]
            short = chunks[len(chunks) - _trailing(chunks):]
            if new.steps[0] <= last.last_step:  # a step again or back: merged into the last chunk, point by point
                rewrite[key] = last.chunk
            elif short and (sum(c.count for c in short) + len(new.steps) >= CHUNK_POINTS
                            or len(short) >= OPEN_CHUNKS):
                rewrite[key] = short[0].chunk
            elif short and last.count < SMALL_TAIL:
                rewrite[key] = last.chunk
            else:
                inserts += new.rows(run_pk, key, last.chunk + 1)
        if rewrite:
            stored = _chunks_after(session, run_pk, {key: first - 1 for key, first in rewrite.items()}, (_TABLE,))
            for key in rewrite:
                inserts += _merged(run_pk, stored[key], fresh[key])
            table = _TABLE
            session.connection().execute(delete(table).where(
                table.c.run_pk == run_pk, table.c.key == bindparam("b_key"), table.c.chunk >= bindparam("b_chunk")),
                [{"b_key": key, "b_chunk": first} for key, first in rewrite.items()])
        if inserts:
            session.connection().execute(insert(_TABLE), inserts)


_TABLE = SeriesChunk.metadata.tables[SeriesChunk.__tablename__]


def _trailing(chunks: list[Any]) -> int:
    """How many of ``chunks`` at their end are short of ``CHUNK_POINTS``."""
    count = 0
    for chunk in reversed(chunks):
        if chunk.count >= CHUNK_POINTS:
            break
        count += 1
    return count


def _ends(session: Session, run_pk: int, keys: list[str]) -> dict[str, list[Any]]:
    """The number, size and last step of each key's last ``OPEN_CHUNKS`` chunks (not their arrays), in order:
    each key's last chunk number, then the chunks after ``OPEN_CHUNKS`` before it."""
    table = _TABLE
    last: dict[str, int] = {}
    for start in range(0, len(keys), 500):
        query = select(table.c.key, func.max(table.c.chunk)).where(
            table.c.run_pk == run_pk, table.c.key.in_(keys[start:start + 500])).group_by(table.c.key)
        last.update((key, chunk) for key, chunk in session.connection().execute(query))
    columns = (table.c.key, table.c.chunk, table.c.count, table.c.last_step)
    return _chunks_after(session, run_pk, {key: chunk - OPEN_CHUNKS for key, chunk in last.items()}, columns)


def _chunks_after(session: Session, run_pk: int, after: dict[str, int], columns: Any) -> dict[str, list[Any]]:
    """Each key's stored chunks numbered above ``after[key]`` (those ``columns``), in order. Keys with the same
    bound share a query, an index search on (run, key, chunk); an OR of per-key bounds would make SQLite's
    planner walk every chunk of the run."""
    table = _TABLE
    by_bound: dict[int, list[str]] = {}
    for key, bound in after.items():
        by_bound.setdefault(bound, []).append(key)
    found: dict[str, list[Any]] = {}
    for bound, keys in by_bound.items():
        for start in range(0, len(keys), 500):
            query = select(*columns).where(table.c.run_pk == run_pk, table.c.key.in_(keys[start:start + 500]),
                                           table.c.chunk > bound)
            for row in session.connection().execute(query.order_by(table.c.key, table.c.chunk)):
                found.setdefault(row.key, []).append(row)
    return found


def _merged(run_pk: int, stored: list[Any], new: Points) -> list[dict[str, Any]]:
    """The rows of the ``stored`` chunks with ``new`` added, numbered from the first stored one."""
    first, tail = stored[0], stored[-1]
    if new.steps[0] > tail.last_step:  # the usual case: later steps, appended as they are
        extra: dict[int, Any] = {}
        offset = 0
        for chunk in stored:
            if chunk.extra:
                extra.update({offset + int(i): v for i, v in orjson.loads(chunk.extra).items()})
            offset += chunk.count
        extra.update({offset + i: v for i, v in new.extra.items()})
        return _chunk_rows(run_pk, first.key, first.chunk,
                           np.concatenate([*(np.frombuffer(c.steps, "<i8") for c in stored),
                                           np.asarray(new.steps, "<i8")]),
                           np.concatenate([*(np.frombuffer(c.times, "<f8") for c in stored),
                                           np.asarray(new.times, "<f8")]),
                           np.concatenate([*(np.frombuffer(c.values, "<f8") for c in stored),
                                           np.asarray(new.values, "<f8")]),
                           extra, all(c.all_int for c in stored) and new.all_int)
    merged = Points.from_chunk(tail)  # only ever the last chunk
    for index, step in enumerate(new.steps):
        merged.add(step, new.times[index], new.extra.get(index, _stored(new, index)))
    merged.all_int = tail.all_int and new.all_int
    return merged.rows(run_pk, tail.key, tail.chunk)


def _stored(points: Points, index: int) -> Any:
    value = points.values[index]
    if value != value or value in (math.inf, -math.inf):
        return {"$f": "nan" if value != value else ("inf" if value > 0 else "-inf")}
    return int(value) if points.all_int else value


def delete_series(session: Session, run_pk: int) -> None:
    session.execute(delete(SeriesChunk).where(SeriesChunk.run_pk == run_pk))


class Series:
    """A key's stored points as numpy arrays, in step order."""

    def __init__(self, steps: np.ndarray, times: np.ndarray, values: np.ndarray, numeric: np.ndarray,
                 extra: dict[int, Any], all_int: bool) -> None:
        self.steps, self.times, self.values, self.numeric = steps, times, values, numeric
        self.extra, self.all_int = extra, all_int


def load_series(session: Session, run_pk: int, keys: Iterable[str], min_step: int | None = None,
                max_step: int | None = None, times: bool = True) -> dict[str, Series]:
    """The stored series of ``keys`` (only the chunks that overlap the step range, when given). With
    ``times=False`` the points' times are not read (a third of the bytes) and ``Series.times`` is empty."""
    table = _TABLE  # Core rows: no ORM objects for megabytes of arrays
    columns = ("key", "count", "steps", "times", "values", "all_int", "extra") if times else (
        "key", "count", "steps", "values", "all_int", "extra")
    query = select(*(table.c[name] for name in columns)
                   ).where(table.c.run_pk == run_pk, table.c.key.in_(list(keys)))
    if min_step is not None:
        query = query.where(table.c.last_step >= min_step)
    if max_step is not None:
        query = query.where(table.c.first_step <= max_step)
    by_key: dict[str, list[Any]] = {}
    for chunk in session.connection().execute(query.order_by(table.c.key, table.c.chunk)):
        by_key.setdefault(chunk.key, []).append(chunk)
    return {key: _joined(chunks, times) for key, chunks in by_key.items()}


def load_series_of_runs(session: Session, run_pks: list[int], keys: Iterable[str], times: bool = True
                        ) -> dict[int, dict[str, Series]]:
    """``load_series`` of several runs in one query: run pk -> key -> the whole series."""
    table = _TABLE
    columns = ("run_pk", "key", "count", "steps", "times", "values", "all_int", "extra") if times else (
        "run_pk", "key", "count", "steps", "values", "all_int", "extra")
    found: dict[int, dict[str, list[Any]]] = {}
    for start in range(0, len(run_pks), 500):
        query = select(*(table.c[name] for name in columns)).where(
            table.c.run_pk.in_(run_pks[start:start + 500]), table.c.key.in_(list(keys)))
        for chunk in session.connection().execute(query.order_by(table.c.run_pk, table.c.key, table.c.chunk)):
            found.setdefault(chunk.run_pk, {}).setdefault(chunk.key, []).append(chunk)
    return {pk: {key: _joined(chunks, times) for key, chunks in by_key.items()} for pk, by_key in found.items()}


def _joined(chunks: list[Any], times: bool) -> Series:
    """One series from its chunks, in chunk order."""
    extra: dict[int, Any] = {}
    offset = 0
    for chunk in chunks:
        if chunk.extra:
            extra.update({offset + int(i): v for i, v in orjson.loads(chunk.extra).items()})
        offset += chunk.count
    steps = np.concatenate([np.frombuffer(c.steps, "<i8") for c in chunks])
    numeric = np.ones(len(steps), bool)
    if extra:
        numeric[list(extra)] = False
    return Series(steps, np.concatenate([np.frombuffer(c.times, "<f8") for c in chunks]) if times
                  else np.empty(0, "<f8"),
                  np.concatenate([np.frombuffer(c.values, "<f8") for c in chunks]), numeric, extra,
                  all(c.all_int for c in chunks))


def tag_values(values: np.ndarray, as_int: bool) -> list[Any]:
    """A JSON-ready list: NaN and ±Inf tagged like the log, integers as integers."""
    listed: list[Any] = values.astype(np.int64).tolist() if as_int and np.isfinite(values).all() else values.tolist()
    for index in np.flatnonzero(~np.isfinite(values)).tolist():
        value = listed[index]
        listed[index] = {"$f": "nan" if value != value else ("inf" if value > 0 else "-inf")}
    return listed


def bucketize(x: np.ndarray, y: np.ndarray, buckets: int, as_int: bool) -> dict[str, list[Any]]:
    """Split the x range into ``buckets`` equal spans; each non-empty one keeps the x of its first and last
    points, its first, last, min and max values and its count, so no single point's extreme is lost.
    ``x`` must be sorted; NaN values count but never hide a number in min/max."""
    if len(x) == 0:
        return {name: [] for name in ("x0", "x1", "first", "last", "min", "max", "count")}
    starts = bucket_starts(x, float(x[-1]), buckets)
    ends = np.concatenate((starts[1:], [len(x)]))
    return _bucket_json({"x0": x[starts], "x1": x[ends - 1], "first": y[starts], "last": y[ends - 1],
                         "min": np.fmin.reduceat(y, starts), "max": np.fmax.reduceat(y, starts),
                         "count": ends - starts}, as_int)


def _bucket_json(arrays: dict[str, np.ndarray], as_int: bool) -> dict[str, list[Any]]:
    x_int = arrays["x0"].dtype.kind == "i"
    out = {name: arrays[name].tolist() if x_int else tag_values(arrays[name], False) for name in ("x0", "x1")}
    out |= {name: tag_values(arrays[name], as_int) for name in ("first", "last", "min", "max")}
    return out | {"count": arrays["count"].tolist()}


def load_blocks(session: Session, run_pk: int, keys: Iterable[str]) -> dict[str, tuple[np.ndarray, bool]]:
    """The block summaries of ``keys``' whole series, with whether all its numbers are integers; a key
    with a chunk stored before blocks existed is left out (its points are read instead)."""
    table = _TABLE
    query = select(table.c.key, table.c.blocks, table.c.all_int).where(
        table.c.run_pk == run_pk, table.c.key.in_(list(keys))).order_by(table.c.key, table.c.chunk)
    by_key: dict[str, list[Any]] = {}
    for chunk in session.connection().execute(query):
        by_key.setdefault(chunk.key, []).append(chunk)
    return {key: (np.concatenate([np.frombuffer(c.blocks, BLOCK) for c in chunks]), all(c.all_int for c in chunks))
            for key, chunks in by_key.items() if all(c.blocks is not None for c in chunks)}


def bucketize_blocks(blocks: np.ndarray, buckets: int, as_int: bool) -> dict[str, list[Any]] | None:
    """``bucketize``'s answer made from block summaries, or None when the buckets would be too few
    blocks wide to keep their edges near equal spans (then the points are read)."""
    if len(blocks) == 0 or int(blocks["count"].sum()) < buckets * 4 * BLOCK_POINTS:
        return None
    return _bucket_json(merge_blocks(blocks, buckets), as_int)

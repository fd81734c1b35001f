"""Series written batch by batch read back as the points written in one go, on SQLite and PostgreSQL,
with each series ending in at most ``OPEN_CHUNKS`` short chunks and no point rewritten once per batch."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _server import one_run_database
from sqlalchemy import event, select

from tracker_server._models import SeriesChunk
from tracker_server._series import CHUNK_POINTS, OPEN_CHUNKS, SeriesBuffer, load_blocks, load_series
from tracker_server._series_blocks import BLOCK


def _batches(rng: random.Random) -> list[list[tuple[int, Any]]]:
    """Batches of (step, value) for one key: sizes from 1 to beyond a chunk, rising steps, now and then a
    step again or going back, text and NaN values, integers."""
    batches, step = [], 0
    for _ in range(rng.randint(5, 40)):
        size = rng.choice((1, 3, 40, 300, 511, 600, 1000, 2500, CHUNK_POINTS + 5))
        batch = []
        if rng.random() < 0.1:
            step -= rng.randint(0, 3)
        for _ in range(size):
            value: Any = rng.choice((rng.random(), rng.random(), rng.randint(0, 9), "text", {"$f": "nan"}))
            batch.append((step, value))
            step += 1
        batches.append(batch)
    return batches


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batches_read_back_as_one_write_and_end_in_few_short_chunks(tmp_path: Path, db_url: str | None,
                                                                    seed: int) -> None:
    rng = random.Random(seed)
    keys = {"a": _batches(rng), "b": _batches(rng)}
    db, run_pk = one_run_database(tmp_path, db_url)
    whole = SeriesBuffer()
    written = {"a": 0, "b": 0}
    for index in range(max(len(batches) for batches in keys.values())):
        buffer = SeriesBuffer()
        for key, batches in keys.items():
            for step, value in batches[index] if index < len(batches) else []:
                buffer.add_row(step, 1e9 + step, {key: value})
                whole.add_row(step, 1e9 + step, {key: value})
        with db.write() as session:
            buffer.flush(session, run_pk)
            chunks = session.execute(select(SeriesChunk.key, SeriesChunk.chunk, SeriesChunk.count)
                                     .where(SeriesChunk.run_pk == run_pk)
                                     .order_by(SeriesChunk.key, SeriesChunk.chunk)).all()
        for key in keys:
            counts = [count for name, _, count in chunks if name == key]
            assert [chunk for name, chunk, _ in chunks if name == key] == list(range(len(counts)))
            assert all(0 < count <= CHUNK_POINTS for count in counts)
            trailing = len(counts) - next((i + 1 for i in range(len(counts) - 1, -1, -1)
                                           if counts[i] >= CHUNK_POINTS), 0)
            assert trailing <= OPEN_CHUNKS
            assert all(count >= CHUNK_POINTS for count in counts[:len(counts) - trailing])
            written[key] = sum(counts)
    reference_db, reference_pk = one_run_database(tmp_path / "reference", None)
    with reference_db.write() as session:
        whole.flush(session, reference_pk)
    with db.read() as session, reference_db.read() as expected_session:
        got = load_series(session, run_pk, list(keys))
        expected = load_series(expected_session, reference_pk, list(keys))
        blocks = load_blocks(session, run_pk, list(keys))
    for key in keys:
        assert written[key] == len(expected[key].steps)
        one, other = got[key], expected[key]
        assert np.array_equal(one.steps, other.steps) and np.array_equal(one.times, other.times)
        assert np.array_equal(one.values, other.values, equal_nan=True)
        assert one.extra == other.extra and one.all_int == other.all_int
        assert np.array_equal(one.numeric, other.numeric)
        numbers = other.values[other.numeric]
        assert int(blocks[key][0]["count"].sum()) == len(numbers)
        assert np.nanmin(blocks[key][0]["min"]) == np.nanmin(numbers)
        assert blocks[key][0].dtype == BLOCK
    db.dispose()
    reference_db.dispose()


def test_a_steady_run_writes_each_point_about_twice(tmp_path: Path) -> None:
    """Batches of 1,000 points: the bytes of arrays written stay near twice the points' own, where
    rewriting the last chunk on every batch wrote about five times as much."""
    db, run_pk = one_run_database(tmp_path, None)
    written = [0]

    @event.listens_for(db.writer, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.startswith("INSERT INTO series_chunks") or statement.startswith("UPDATE series_chunks"):
            rows = parameters if executemany else [parameters]
            written[0] += sum(len(row[6]) for row in rows)  # the steps array: 8 bytes a point

    points = 0
    for batch in range(100):
        buffer = SeriesBuffer()
        for step in range(batch * 1000, (batch + 1) * 1000):
            buffer.add_row(step, 0.0, {"loss": float(step)})
        points += 1000
        with db.write() as session:
            buffer.flush(session, run_pk)
    assert written[0] / 8 < 2.3 * points
    with db.read() as session:
        assert np.array_equal(load_series(session, run_pk, ["loss"])["loss"].steps, np.arange(points))
    db.dispose()

"""A long history's buckets come from block summaries: every extreme and every point's count is kept,
exactly as buckets made from the points, on data with NaN, ±Inf, text values and a planted spike; old
chunks get their summaries from the migration."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import sqlalchemy as sa
from _server import Server, make_run, new_key, post_run, spike
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker_server._series import CHUNK_POINTS, _chunk_rows, bucketize_blocks
from tracker_server._series_blocks import BLOCK, BLOCK_POINTS, summarize


def _points_in(steps: np.ndarray, values: np.ndarray, numeric: np.ndarray, low: int, high: int) -> np.ndarray:
    inside = numeric & (steps >= low) & (steps <= high)
    return values[inside]


def _decode(value: Any) -> float:
    return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}[value["$f"]] if isinstance(value, dict) else value


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3 * CHUNK_POINTS), buckets=st.integers(1, 40), seed=st.integers(0, 2**31 - 1),
       gaps=st.booleans())
def test_block_buckets_hold_exactly_the_points_between_their_edges(n: int, buckets: int, seed: int,
                                                                   gaps: bool) -> None:
    rng = np.random.default_rng(seed)
    steps = np.cumsum(rng.integers(1, 50, n) if gaps else np.ones(n, np.int64)).astype("<i8")
    values = rng.normal(size=n)
    values[rng.random(n) < 0.01] = math.nan
    values[rng.random(n) < 0.005] = math.inf
    extra = {int(i): "text" for i in np.flatnonzero(rng.random(n) < 0.01)}
    numeric = np.ones(n, bool)
    numeric[list(extra)] = False
    rows = _chunk_rows(1, "k", 0, steps, np.zeros(n), values, extra, False)
    blocks = np.concatenate([np.frombuffer(row["blocks"], BLOCK) for row in rows])
    assert int(blocks["count"].sum()) == int(numeric.sum())
    answer = bucketize_blocks(blocks, buckets, False)
    if answer is None:
        assert numeric.sum() < buckets * 4 * BLOCK_POINTS
        return
    assert sum(answer["count"]) == int(numeric.sum()) and len(answer["count"]) <= buckets
    assert all(a < b for a, b in zip(answer["x1"], answer["x0"][1:], strict=False))  # disjoint, in order
    for i, (low, high) in enumerate(zip(answer["x0"], answer["x1"], strict=True)):
        inside = _points_in(steps, values, numeric, low, high)
        assert len(inside) == answer["count"][i]
        finite = inside[~np.isnan(inside)]
        for name, expected in (("min", finite.min() if len(finite) else math.nan),
                               ("max", finite.max() if len(finite) else math.nan)):
            got = _decode(answer[name][i])
            assert got == expected or (math.isnan(got) and math.isnan(expected))
        for name, expected in (("first", inside[0]), ("last", inside[-1])):
            got = _decode(answer[name][i])
            assert got == expected or (math.isnan(got) and math.isnan(expected))


def test_a_chunk_of_text_only_has_no_blocks() -> None:
    assert summarize(np.arange(3, dtype="<i8"), np.zeros(3), np.zeros(3, bool)) == b""


@pytest.mark.slow
def test_the_history_route_buckets_a_long_series_from_blocks_and_keeps_its_spike(server: Server,
                                                                                  store: Path) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    steps, at = 60_000, 41_234
    run_dir = make_run(steps=steps, metrics=lambda step: {"loss": spike(step, at), "epoch": step // 1000})
    with server.client(key) as client:
        run_id = post_run(client, "research", run_dir, batch=20_000)
        path = f"/api/v1/runs/research/p/{run_id}/history"
        coarse = client.get(path, params={"keys": ["loss", "epoch"], "buckets": 100}).json()["series"]
        exact = client.get(path, params={"keys": "loss", "buckets": 100, "min_x": 0}).json()["series"]["loss"]
    loss = coarse["loss"]
    assert sum(loss["count"]) == steps == sum(exact["count"]) and len(loss["count"]) <= 100
    spiked = [i for i, high in enumerate(loss["max"]) if high == 1e6]
    assert len(spiked) == 1 and loss["x0"][spiked[0]] <= at <= loss["x1"][spiked[0]]
    assert max(loss["max"]) == max(exact["max"]) and min(loss["min"]) == min(exact["min"])
    assert coarse["epoch"]["max"][-1] == (steps - 1) // 1000 and isinstance(coarse["epoch"]["max"][-1], int)


def test_the_migration_gives_old_chunks_their_blocks(tmp_path: Path, db_url: str | None) -> None:
    from alembic import command
    from sqlalchemy.orm import Session

    from tracker_server._config import database_url
    from tracker_server._database import Database
    from tracker_server._models import Project, Run, Team
    from tracker_server._schema import alembic_config, upgrade

    db = Database(database_url(db_url, str(tmp_path)))
    try:
        with db.writer.connect() as connection:
            command.upgrade(alembic_config(connection), "0005")
            connection.commit()
            with Session(connection) as session:  # teams, projects and runs are as they were at 0005
                team = Team(name="t", created_at=0.0)
                session.add(team)
                session.flush()
                project = Project(team_id=team.id, name="p", created_at=0.0, last_activity=0.0)
                session.add(project)
                session.flush()
                row = Run(project_id=project.id, run_id="r", state="finished", created_at=0.0, updated_at=0.0,
                          last_seq=0, edits="{}", tags="[]", preempted=False, heartbeat_interval=30.0, meta="{}")
                session.add(row)
                session.flush()
                run = row.id
                session.commit()
            steps, values = np.arange(200, dtype="<i8"), np.sin(np.arange(200.0))
            connection.execute(sa.text(
                'INSERT INTO series_chunks (run_pk, key, chunk, count, first_step, last_step, steps, times, '
                '"values", all_int, extra) VALUES (:r, \'k\', 0, 200, 0, 199, :s, :t, :v, false, :e)'),
                {"r": run, "s": steps.tobytes(), "t": np.zeros(200).tobytes(), "v": values.tobytes(),
                 "e": orjson.dumps({"5": "text"}).decode()})
            connection.commit()
        upgrade(db)
        with db.writer.connect() as connection:
            stored = connection.execute(sa.text("SELECT blocks FROM series_chunks")).scalar()
        numeric = np.ones(200, bool)
        numeric[5] = False
        assert stored == summarize(steps, values, numeric) and len(np.frombuffer(stored, BLOCK)) == 4
    finally:
        db.dispose()

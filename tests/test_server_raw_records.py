"""Raw records stored as packs of consecutive ``log`` lines and rows for the rest read back exactly as sent,
in seq order, with any ``after_seq``, ``upto``, ``limit`` and ``types``, on SQLite and PostgreSQL; log records
stored one row each (before packs existed) merge in; downgrading unpacks the packs into rows."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from _server import one_run_database
from sqlalchemy import func, select

from tracker_server._models import Record, RecordPack
from tracker_server._raw_records import records_after, store_records
from tracker_server._schema import upgrade

_TYPES = ("log",) * 12 + ("system", "summary", "artifact", "define_metric")  # log stretches of 4 on average


def _record(rng: random.Random, seq: int) -> tuple[dict[str, Any], bytes]:
    kind = rng.choice(_TYPES)
    record = {"seq": seq, "t": 1.0 + seq, "type": kind, "data": {"x": rng.random(), "s": "a\\nb \u00e9"}}
    return record, orjson.dumps(record)


@pytest.mark.parametrize("seed", [1, 2])
def test_records_read_back_as_sent_in_seq_order_by_any_range_and_type(tmp_path: Path, db_url: str | None,
                                                                       seed: int) -> None:
    rng = random.Random(seed)
    db, run_pk = one_run_database(tmp_path, db_url)
    try:
        sent: list[tuple[int, str, bytes]] = []
        seq = 1
        with db.write() as session:  # as stored before packs: one row a record, log records too
            for _ in range(30):
                record, line = _record(rng, seq)
                session.add(Record(run_pk=run_pk, seq=seq, type=record["type"], body=line))
                sent.append((seq, record["type"], line))
                seq += 1
        for _ in range(25):  # batches of 1 to 300 records
            batch = [_record(rng, seq + offset) for offset in range(rng.choice((1, 2, 7, 50, 300)))]
            seq += len(batch)
            with db.write() as session:
                store_records(session, run_pk, batch)
            sent += [(record["seq"], record["type"], line) for record, line in batch]
        with db.read() as session:
            packs = session.scalar(select(func.count()).select_from(RecordPack).where(RecordPack.run_pk == run_pk))
            rows = session.scalar(select(func.count()).select_from(Record).where(Record.run_pk == run_pk))
            logged = sum(1 for _, kind, _ in sent[30:] if kind == "log")
            assert packs and rows and packs < logged / 2  # the log records went in as packs
            assert records_after(session, run_pk, 0) == [(s, line) for s, _, line in sent]
            last = sent[-1][0]
            for _ in range(60):
                after = rng.randint(0, last)
                upto = rng.choice((None, rng.randint(after, last)))
                limit = rng.choice((None, 1, 3, 100, 1000))
                types = rng.choice(((), ("log",), ("artifact",), ("system", "summary"), ("log", "define_metric")))
                expected = [(s, line) for s, kind, line in sent
                            if s > after and (upto is None or s <= upto) and (not types or kind in types)]
                got = records_after(session, run_pk, after, upto=upto, limit=limit, types=types)
                assert got == (expected if limit is None else expected[:limit]), (after, upto, limit, types)
    finally:
        db.dispose()


def test_a_batch_of_log_records_is_one_pack_and_the_others_rows(tmp_path: Path, db_url: str | None) -> None:
    db, run_pk = one_run_database(tmp_path, db_url)
    try:
        kinds = ["log"] * 500 + ["system"] + ["log"] * 499 + ["status"]
        batch = [({"seq": seq, "type": kind}, orjson.dumps({"seq": seq, "type": kind}))
                 for seq, kind in enumerate(kinds, 1)]
        with db.write() as session:
            store_records(session, run_pk, batch)
        with db.read() as session:
            packs = session.execute(select(RecordPack.first_seq, RecordPack.last_seq)
                                    .order_by(RecordPack.first_seq)).all()
            assert [tuple(pack) for pack in packs] == [(1, 500), (502, 1000)]
            assert list(session.scalars(select(Record.type).order_by(Record.seq))) == ["system", "status"]
    finally:
        db.dispose()


def test_downgrading_the_schema_unpacks_the_packs_into_rows(tmp_path: Path, db_url: str | None) -> None:
    from alembic import command

    from tracker_server._schema import alembic_config

    db, run_pk = one_run_database(tmp_path, db_url)
    try:
        batch = [_record(random.Random(seq), seq) for seq in range(1, 401)]
        with db.write() as session:
            store_records(session, run_pk, batch)
        with db.writer.begin() as connection:
            command.downgrade(alembic_config(connection), "0007")
        with db.read() as session:
            assert [(seq, bytes(body)) for seq, body in session.execute(select(Record.seq, Record.body)
                                                                        .order_by(Record.seq))] == \
                [(record["seq"], line) for record, line in batch]
        upgrade(db)
        with db.read() as session:
            assert records_after(session, run_pk, 0) == [(record["seq"], line) for record, line in batch]
    finally:
        db.dispose()

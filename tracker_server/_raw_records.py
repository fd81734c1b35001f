"""A run's raw records as the client wrote them: stored by ingest, read back in ``seq`` order.

Consecutive ``log`` records, most of a run, go in as one ``record_packs`` row a stretch (their lines
joined by newlines; a line never holds one); every other record is one ``records`` row, found by its
type through that table's partial index. Records stored before packs existed stay rows. Readers take
both tables, merged by ``seq``.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tracker_server._models import Record, RecordPack

__all__ = ["records_after", "store_records"]

_Row = tuple[int, int, str, bytes]
_Pack = tuple[int, int, int, bytes]


def store_records(session: Session, run_pk: int, new: Sequence[tuple[dict[str, Any], bytes]]) -> None:
    """Insert ``new`` (records with their lines, rising seqs) through the driver's own executemany, or a COPY
    on PostgreSQL: SQLAlchemy's per-row parameter processing would cost more than the rest of the insert."""
    rows, packs = _split(run_pk, new)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            for table, columns, values in ((Record.__tablename__, "run_pk, seq, type, body", rows),
                                           (RecordPack.__tablename__, "run_pk, first_seq, last_seq, body", packs)):
                if values:
                    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for value in values:
                            copy.write_row(value)
        return
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    marks = ", ".join([mark] * 4)
    if rows:
        connection.exec_driver_sql(f"INSERT INTO {Record.__tablename__} (run_pk, seq, type, body) "  # noqa: S608
                                   f"VALUES ({marks})", rows)
    if packs:
        connection.exec_driver_sql(f"INSERT INTO {RecordPack.__tablename__} (run_pk, first_seq, last_seq, body) "  # noqa: S608
                                   f"VALUES ({marks})", packs)


def _split(run_pk: int, new: Sequence[tuple[dict[str, Any], bytes]]) -> tuple[list[_Row], list[_Pack]]:
    """The records that are not ``log`` as rows; each stretch of consecutive ``log`` records as one pack."""
    rows: list[_Row] = []
    stretches: list[list[tuple[int, bytes]]] = []
    for record, line in new:
        seq = record["seq"]
        if record["type"] != "log":
            rows.append((run_pk, seq, record["type"][:32], line))
        elif stretches and stretches[-1][-1][0] == seq - 1:
            stretches[-1].append((seq, line))
        else:
            stretches.append([(seq, line)])
    packs = [(run_pk, stretch[0][0], stretch[-1][0], b"\n".join(line for _, line in stretch)) for stretch in stretches]
    return rows, packs


def records_after(session: Session, run_pk: int, after_seq: int, *, upto: int | None = None,
                  limit: int | None = None, types: Sequence[str] = ()) -> list[tuple[int, bytes]]:
    """``(seq, line)`` of the run's records after ``after_seq`` (up to ``upto``), in seq order, at most ``limit``;
    with ``types``, only records of those types."""
    query = select(Record.seq, Record.body).where(Record.run_pk == run_pk, Record.seq > after_seq)
    if upto is not None:
        query = query.where(Record.seq <= upto)
    order: Any = Record.seq
    if types:
        query = query.where(Record.type.in_(types))
        if "log" not in types:  # the partial index's own words, and an order it cannot take from the primary
            query = query.where(text("records.type != 'log'"))  # key, so that SQLite plans with that index too
            order = text("+records.seq")
    query = query.order_by(order)
    if limit is not None:
        query = query.limit(limit)
    rows = [(seq, bytes(body)) for seq, body in session.execute(query)]
    if types and "log" not in types:
        return rows
    packed = _packed_after(session, run_pk, after_seq, upto, limit)
    merged = list(heapq.merge(rows, packed))
    return merged if limit is None else merged[:limit]


def _packed_after(session: Session, run_pk: int, after_seq: int, upto: int | None,
                  limit: int | None) -> list[tuple[int, bytes]]:
    """The packed ``log`` lines after ``after_seq``: the pack that holds ``after_seq + 1``, if one does, then the
    packs that start after it (two range scans of the primary key)."""
    pack = RecordPack
    before = session.execute(select(pack.first_seq, pack.last_seq).where(  # packs never overlap: only the last
        pack.run_pk == run_pk, pack.first_seq <= after_seq).order_by(pack.first_seq.desc()).limit(1)).first()
    holding = [] if before is None or before.last_seq <= after_seq else session.execute(  # one before can hold it
        select(pack.first_seq, pack.body).where(pack.run_pk == run_pk, pack.first_seq == before.first_seq)).all()
    later = select(pack.first_seq, pack.body).where(pack.run_pk == run_pk, pack.first_seq > after_seq)
    if upto is not None:
        later = later.where(pack.first_seq <= upto)
    later = later.order_by(pack.first_seq)
    if limit is not None:
        later = later.limit(limit)
    lines: list[tuple[int, bytes]] = []
    for first, body in [*holding, *session.execute(later)]:
        for offset, line in enumerate(bytes(body).split(b"\n")):
            seq = first + offset
            if seq > after_seq and (upto is None or seq <= upto):
                lines.append((seq, line))
        if limit is not None and len(lines) >= limit:
            break
    return lines

"""Records in: exactly once by ``seq``, folded into the derived tables in the same transaction.

A batch is the run's ``events.jsonl`` lines. Records at or below the acknowledged seq are
ignored; the rest must continue it without a gap. The raw lines are kept; the replay state
(``RunState``, the same fold the local reader uses) is stored after each batch, so a batch costs
only its own records. A rewind, or a fold written by another version, rebuilds every derived
table from the raw records.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from tracker_core._encoding import encode_tree
from tracker_core.store._replay import RunState
from tracker_server._artifacts import index_artifact_records
from tracker_server._errors import ApiError
from tracker_server._fold_columns import MIN_STRETCH, fold_columns, stretch_end
from tracker_server._models import ConfigValue, MetricBest, Run, SummaryValue
from tracker_server._raw_records import records_after, store_records
from tracker_server._series import SeriesBuffer, delete_series

__all__ = ["Fold", "apply_batch", "new_run", "parse_batch", "refresh_meta"]

FOLD_VERSION = 1
_TRACEBACK_LIMIT = 65536
_EDITABLE = ("name", "notes", "tags", "group", "job_type")


@dataclass
class Fold:
    """What the server keeps between batches: the replay state and what it adds to it."""

    state: RunState
    sent_meta: dict[str, Any] = field(default_factory=dict)  # run.json as the client last sent it
    system_samples: int = 0


def parse_batch(body: bytes) -> list[tuple[dict[str, Any], bytes]]:
    """The batch's records with their lines.

    Raises:
        ApiError: 400 for a line that is not a JSON object with an integer ``seq`` >= 1 and a text ``type``.
    """
    parsed = []
    for number, line in enumerate(body.split(b"\n"), 1):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise ApiError(400, "malformed", f"line {number} is not JSON: {error}", line=number) from None
        if type(record) is not dict or type(record.get("seq")) is not int or record["seq"] < 1 \
                or type(record.get("type")) is not str:
            raise ApiError(400, "malformed", f"line {number} is not a record (an object with an integer seq >= 1 "
                           "and a text type)", line=number)
        parsed.append((record, line))
    return parsed


def new_run(session: Session, project_id: int, run_id: str, now: float) -> tuple[Run, Fold]:
    """Adds a running run with nothing folded yet (flushed, so its ``id`` is set); returns it and its empty fold,
    which the caller saves."""
    run = Run(project_id=project_id, run_id=run_id, state="running", created_at=now, updated_at=now, last_seq=0,
              edits="{}", tags="[]", preempted=False, heartbeat_interval=30.0)
    session.add(run)
    session.flush()
    return run, Fold(RunState(keep_rows=False))


def load_fold(session: Session, run: Run) -> Fold:
    if run.fold is not None and run.fold_version == FOLD_VERSION:
        fold = pickle.loads(run.fold)  # noqa: S301  # written by this server into its own database
        if isinstance(fold, Fold):
            return fold
    return rebuild(session, run, [])


def _save_fold(run: Run, fold: Fold) -> None:
    fold.state.system = []  # the samples live in the series tables
    fold.state.artifacts = fold.state.artifacts[-1000:]
    run.fold = pickle.dumps(fold, protocol=pickle.HIGHEST_PROTOCOL)
    run.fold_version = FOLD_VERSION


def _fold_record(fold: Fold, series: SeriesBuffer, record: dict[str, Any]) -> None:
    state = fold.state
    kind = record["type"]
    step = record.get("step")
    if type(step) is not int:
        step = state.next_step
    try:
        state.apply(record)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ApiError(400, "malformed", f"record seq {record['seq']} ({kind}) cannot be read: {error!r}",
                       seq=record["seq"]) from None
    stamp = record.get("t")
    t = float(stamp) if isinstance(stamp, (int, float)) else 0.0
    if kind == "log":
        series.add_row(step, t, record.get("data") or {})
    elif kind == "system":
        series.add_row(fold.system_samples, t, record.get("data") or {})
        fold.system_samples += 1
    elif kind == "rewind":
        series.rewind(int(record["step"]))


def _fold_records(fold: Fold, series: SeriesBuffer, records: list[dict[str, Any]]) -> None:
    """Fold ``records`` in order: long stretches of plain ``log`` records as columns, the rest one by one.

    Raises:
        ApiError: 400 for a record the fold cannot read.
    """
    index = 0
    while index < len(records):
        end = stretch_end(records, index)
        if end - index >= MIN_STRETCH and fold_columns(fold.state, series, records[index:end]):
            index = end
            continue
        for record in records[index:max(end, index + 1)]:
            _fold_record(fold, series, record)
        index = max(end, index + 1)


def apply_batch(session: Session, run: Run, batch: list[tuple[dict[str, Any], bytes]]) -> int:
    """Store the new records of ``batch`` and fold them in; returns the acknowledged seq.

    Raises:
        ApiError: 409 ``seq_gap`` when the new records do not continue the stored ones; 400 for a record the
            fold cannot read. Nothing is stored then (the caller's transaction is rolled back).
    """
    acked = run.last_seq
    new = [(record, line) for record, line in batch if record["seq"] > acked]
    if not new:
        return acked
    for offset, (record, _) in enumerate(new):
        if record["seq"] != acked + 1 + offset:
            raise ApiError(409, "seq_gap", f"expected seq {acked + 1 + offset}, got {record['seq']}; "
                           f"resend from {acked + 1}", acked_seq=acked)
    store_records(session, run.id, new)
    if any(record["type"] == "rewind" for record, _ in new):
        rebuild(session, run, [])
    else:
        fold = load_fold(session, run)
        before = _derived(fold)
        series = SeriesBuffer()
        for record, _ in new:
            if record["type"] == "meta":
                _drop_edits(run, record.get("set"))
        _fold_records(fold, series, [record for record, _ in new])
        series.flush(session, run.id)
        _update_run(session, run, fold, before)
    if any(record["type"] == "artifact" for record, _ in new):
        index_artifact_records(session, run, [record for record, _ in new if record["type"] == "artifact"])
    run.last_seq = new[-1][0]["seq"]
    return run.last_seq


def rebuild(session: Session, run: Run, extra: Iterable[dict[str, Any]]) -> Fold:
    """Fold every stored record of ``run`` again and rewrite its derived tables; returns the fold."""
    previous = run.fold
    sent = pickle.loads(previous).sent_meta if previous and run.fold_version == FOLD_VERSION else {}  # noqa: S301
    records = [orjson.loads(line) for _, line in records_after(session, run.id, 0)]
    keep_rows = any(record.get("type") == "rewind" for record in records)
    fold = Fold(RunState(keep_rows), sent_meta=sent if isinstance(sent, dict) else {})
    series = SeriesBuffer()
    _fold_records(fold, series, [*records, *extra])
    fold.state.entries = []
    fold.state.keep_rows = False
    delete_series(session, run.id)
    series.flush(session, run.id)
    for model in (SummaryValue, ConfigValue, MetricBest):
        session.execute(delete(model).where(model.run_pk == run.id))
    _update_run(session, run, fold, _Derived({}, {}, {}))
    return fold


@dataclass
class _Derived:
    summary: dict[str, tuple[int, float | None, str | None]]
    config: dict[str, tuple[int, float | None, str | None]]
    best: dict[str, tuple[float, int | None, float, int | None]]


def _derived(fold: Fold) -> _Derived:
    state = fold.state
    summary = state.summary.snapshot()
    return _Derived(_flat_values(summary, nested=True), _flat_values(state.config, nested=True),
                    _best_values(state.extremes, summary))


_Value = tuple[int, float | None, str | None]


def _flat_values(tree: dict[str, Any], nested: bool, prefix: str = "") -> dict[str, _Value]:
    flat: dict[str, _Value] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if nested and type(value) is dict and value:
            flat.update(_flat_values(value, True, name + "."))
        elif type(value) is bool:
            flat[name] = (1, float(value), None)
        elif type(value) in (int, float):
            flat[name] = (0, None if value != value else float(value), None)
        elif type(value) is str:
            flat[name] = (2, None, value)
        else:
            flat[name] = (3, None, None)
    return flat


def _best_values(extremes: dict[str, list[Any]], summary: dict[str, Any]) -> dict[str, tuple[float, int | None,
                                                                                              float, int | None]]:
    best: dict[str, tuple[float, int | None, float, int | None]] = {}
    for key, value in summary.items():
        if type(value) in (int, float) and value == value:
            best[key] = (float(value), None, float(value), None)
    for key, (low, low_step, high, high_step) in extremes.items():
        best[key] = (float(low), low_step, float(high), high_step)
    return best


def _replace_changed(session: Session, model: Any, run: Run, old: dict[str, Any], new: dict[str, Any],
                     columns: tuple[str, ...]) -> None:
    changed = [key for key, value in new.items() if old.get(key) != value]
    gone = [key for key in old if key not in new]
    stale = [key for key in changed if key in old] + gone
    for start in range(0, len(stale), 500):
        session.execute(delete(model).where(model.run_pk == run.id, model.key.in_(stale[start:start + 500])))
    if changed:
        session.connection().execute(insert(model.metadata.tables[model.__tablename__]), [
            {"run_pk": run.id, "key": key, "project_id": run.project_id, **dict(zip(columns, new[key], strict=True))}
            for key in changed])


def _drop_edits(run: Run, changes: Any) -> None:
    """A later ``meta`` record from the run's own log wins over an edit made through the API."""
    if isinstance(changes, dict):
        edits = orjson.loads(run.edits)
        if any(field in edits for field in changes):
            run.edits = orjson.dumps({k: v for k, v in edits.items() if k not in changes}).decode()


def _update_run(session: Session, run: Run, fold: Fold, before: _Derived) -> None:
    after = _derived(fold)
    _replace_changed(session, SummaryValue, run, before.summary, after.summary, ("kind", "num", "text"))
    _replace_changed(session, ConfigValue, run, before.config, after.config, ("kind", "num", "text"))
    _replace_changed(session, MetricBest, run, before.best, after.best,
                     ("min_value", "min_step", "max_value", "max_step"))
    state = fold.state
    run.config = orjson.dumps(encode_tree(state.config)).decode()
    run.summary = orjson.dumps(encode_tree(state.summary.snapshot())).decode()
    run.state = state.status if state.status not in (None, "running") else "running"
    run.exit_code = state.exit_code if type(state.exit_code) is int else None
    run.signal = str(state.signal)[:32] if state.signal else None
    run.traceback = (state.traceback or "")[-_TRACEBACK_LIMIT:] or None
    run.preempted = state.preempted
    run.heartbeat_at = state.last_t
    run.ended_at = state.ended_t if type(state.ended_t) in (int, float) else None
    refresh_meta(run, fold)
    _save_fold(run, fold)


def refresh_meta(run: Run, fold: Fold) -> None:
    """Recompute the metadata columns: run.json as sent, then the log's own metadata, then API edits."""
    meta = {**fold.sent_meta, **fold.state.meta}
    meta.pop("status", None), meta.pop("exit_code", None)  # the records decide the state
    run.meta = orjson.dumps(encode_tree(meta)).decode()
    meta.update(orjson.loads(run.edits))
    run.name = _text(meta.get("name"))
    tags = meta.get("tags")
    run.tags = orjson.dumps([t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []).decode()
    run.group_name, run.job_type = _text(meta.get("group")), _text(meta.get("job_type"))
    run.notes, run.host = _text(meta.get("notes")), _text(meta.get("host"))
    started = meta.get("started")
    first = fold.state.first_t
    if isinstance(started, (int, float)):
        run.created_at = float(started)
    elif first:
        run.created_at = float(first)
    interval = meta.get("heartbeat_interval")
    run.heartbeat_interval = float(interval) if isinstance(interval, (int, float)) and interval > 0 else 30.0
    run.updated_at = time.time()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None

"""The column fold of plain ``log`` stretches gives exactly the state of the per-record fold, on random logs."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker_core.store._replay import RunState
from tracker_server._errors import ApiError
from tracker_server._fold_columns import MIN_STRETCH, fold_columns, stretch_end
from tracker_server._ingest import Fold, _fold_record, _fold_records, parse_batch
from tracker_server._series import SeriesBuffer

_KINDS = ("float", "float", "float", "int", "big_int", "mixed", "nan", "inf", "bool", "text", "none", "nested")


def _value(rng: random.Random, kind: str) -> Any:
    if kind == "mixed":
        kind = rng.choice(("float", "int"))
    if kind == "float":
        return rng.choice((rng.uniform(-5, 5), rng.choice((0.0, -0.0, 1.0, 1e308, -1e308))))
    if kind == "int":
        return rng.randint(-3, 3)
    if kind == "big_int":
        return rng.choice((2**53 + 1, -(2**60), rng.randint(-3, 3)))
    if kind == "nan":
        return rng.choice(({"$f": "nan"}, rng.random()))
    if kind == "inf":
        return rng.choice(({"$f": "inf"}, {"$f": "-inf"}, rng.random()))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "text":
        return rng.choice(("x", 1.5))
    if kind == "nested":
        return {"a": rng.random()}
    return None


def _log(rng: random.Random, seed: int) -> list[dict[str, Any]]:
    """Records as a client writes them: long stretches of rows with the same keys (values of one kind or
    mixed), other records in between, steps rising, repeated, missing, going back."""
    records: list[dict[str, Any]] = []
    step = 0
    while len(records) < 300:
        choice = rng.random()
        if choice < 0.6:
            keys = rng.sample(["loss", "acc", "lr", "epoch", "grad/norm"], rng.randint(0, 4))
            kinds = dict.fromkeys(keys, "float")
            for key in keys:  # mostly one key of another kind than float, sometimes more
                if rng.random() < 0.4:
                    kinds[key] = rng.choice(_KINDS)
            mode = rng.choice(("rise", "rise", "rise", "same", "missing", "back", "jump"))
            for _ in range(rng.randint(1, 3 * MIN_STRETCH)):
                record: dict[str, Any] = {"type": "log", "t": rng.choice((1e9 + len(records), len(records)))}
                if mode == "rise" or (mode == "same" and rng.random() < 0.5):
                    step += 1
                elif mode == "back":
                    step -= rng.randint(0, 2)
                elif mode == "jump":
                    step += rng.randint(1, 1000)
                if mode != "missing" or rng.random() < 0.3:
                    record["step"] = step if rng.random() < 0.97 else float(step)
                record["data"] = {key: _value(rng, kinds[key]) for key in keys}
                records.append(record)
        elif choice < 0.7:
            records.append({"type": "system", "t": 1e9 + len(records), "data": {"cpu": rng.random() * 100}})
        elif choice < 0.75:
            records.append({"type": "summary", "t": 1e9, "set": {"best": rng.random()}, "unset": ["acc"]})
        elif choice < 0.8:
            records.append({"type": "config", "t": 1e9, "data": {"lr": rng.random()}})
        elif choice < 0.83 and seed % 3 == 0:
            records.append({"type": "define_metric", "t": 1e9, "metric": {"name": "loss", "summary": ["min"]}})
        elif choice < 0.86:
            records.append({"type": "log", "t": 1e9, "step": step, "data": {"loss": rng.random(), "extra": 1}})
        elif choice < 0.9:
            records.append({"type": "status", "t": 1e9, "status": "running"})
        else:
            records.append({"type": "log", "t": 1e9, "data": {}})
    seq = 0
    for record in records:
        seq += 1 if rng.random() < 0.98 else rng.randint(2, 5)  # gaps: the fold counts them (the server refuses them)
        record["seq"] = seq
    return records


def _plain(value: Any) -> Any:
    """A comparable form: objects as their attributes, NaN as text, dict order kept, int and float told apart."""
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    if isinstance(value, (bool, int, str, type(None))):
        return (type(value).__name__, value)
    if isinstance(value, dict):
        return ("dict", [(_plain(k), _plain(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return (type(value).__name__, [_plain(item) for item in items])
    slots = getattr(type(value), "__slots__", None)
    attributes = {name: getattr(value, name) for name in slots} if slots else vars(value)
    return (type(value).__name__, _plain(attributes))


def _fold_both(records: list[dict[str, Any]], cuts: list[int]) -> tuple[Any, Any]:
    """Fold the records in batches (cut at ``cuts``) one by one and with the column fold; returns both
    states and the series buffers of every batch."""
    lines = b"\n".join(orjson.dumps(record) for record in records)
    parsed = [record for record, _ in parse_batch(lines)]  # what the server folds: the records as parsed
    parsed_too = [record for record, _ in parse_batch(lines)]
    reference, columns = Fold(RunState(keep_rows=False)), Fold(RunState(keep_rows=False))
    series_one, series_columns = [], []
    bounds = [0, *sorted(set(cuts)), len(records)]
    for start, end in itertools.pairwise(bounds):
        one, many = SeriesBuffer(), SeriesBuffer()
        for record in parsed[start:end]:
            _fold_record(reference, one, record)
        _fold_records(columns, many, parsed_too[start:end])
        series_one.append(one.points)
        series_columns.append(many.points)
    return (_plain(reference), _plain(series_one)), (_plain(columns), _plain(series_columns))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), cuts=st.lists(st.integers(0, 400), max_size=4))
def test_the_column_fold_gives_the_state_and_series_of_the_per_record_fold(seed: int, cuts: list[int]) -> None:
    rng = random.Random(seed)
    records = _log(rng, seed)
    one, columns = _fold_both(records, [cut for cut in cuts if cut < len(records)])
    assert columns == one


def test_the_column_fold_takes_plain_stretches_and_leaves_the_rest() -> None:
    rows = [{"seq": i + 1, "t": 1.0 + i, "type": "log", "step": i, "data": {"a": float(i % 7), "n": i}}
            for i in range(40)]
    assert stretch_end(rows, 0) == 40
    state, series = RunState(keep_rows=False), SeriesBuffer()
    assert fold_columns(state, series, rows)
    assert state.extremes == {"a": [0.0, 0, 6.0, 6], "n": [0, 0, 39, 39]}
    assert state.summary.snapshot() == {"a": 4.0, "n": 39} and state.next_step == 40 and state.last_seq == 40
    assert series.points["a"].steps == list(range(40)) and not series.points["a"].all_int
    assert series.points["n"].all_int
    repeated = [{**row, "step": 50} for row in rows[:20]]  # the same step again: the later value wins
    assert not fold_columns(state, series, repeated)
    texts = [{**row, "step": 100 + i, "data": {"a": "x", "n": 1}} for i, row in enumerate(rows)]
    assert not fold_columns(state, series, texts)
    assert state.next_step == 40 and len(series.points["a"].steps) == 40  # nothing changed


@pytest.mark.parametrize("column", [
    [float(i % 5) if i % 3 else i % 5 for i in range(40)],  # integers and floats mixed
    [2**53 + i for i in range(40)],  # integers beyond float precision
    [i - 20 for i in range(40)],
    [{"$f": "nan"} if i == 7 else float(i) for i in range(40)],
    [{"$f": "-inf"} if i == 9 else float(i) for i in range(40)],
    [float(i % 4) - 2.0 for i in range(40)],  # ties: the first minimum and maximum count
    [-0.0 if i % 2 else 0.0 for i in range(40)],
])
def test_columns_of_every_kind_fold_as_record_by_record(column: list[Any]) -> None:
    records = [{"seq": i + 1, "t": 1e9 + i, "type": "log", "step": i, "data": {"x": 1.5, "v": value}}
               for i, value in enumerate(column)]
    records += [{"seq": 41 + i, "t": 2e9, "type": "log", "step": 100 + i, "data": {"x": 0.5, "v": value}}
                for i, value in enumerate(column)]
    one, columns = _fold_both(records, [40])
    assert columns == one


def test_a_python_nan_is_left_to_the_per_record_fold() -> None:
    rows = [{"seq": i + 1, "t": 1.0, "type": "log", "step": i, "data": {"a": math.nan if i == 3 else 1.0}}
            for i in range(40)]
    state = RunState(keep_rows=False)
    assert not fold_columns(state, SeriesBuffer(), rows)
    assert state.extremes == {} and state.next_step == 0


def test_a_bad_record_inside_a_stretch_is_refused_like_before() -> None:
    rows = [{"seq": i + 1, "t": 1.0, "type": "log", "step": i, "data": {"a": 1.0}} for i in range(40)]
    rows[30]["data"] = [1, 2]
    with pytest.raises(ApiError) as raised:
        _fold_records(Fold(RunState(keep_rows=False)), SeriesBuffer(), rows)
    assert raised.value.status == 400 and "seq 31" in str(raised.value.detail)

"""Logged values and keys come back exactly: NaN, ±Inf, big integers, unicode keys, numpy and torch scalars."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracker_core
from tracker_core._encoding import decode_row, decode_tree, encode_tree, normalize_row, tag_row

scalars = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.booleans(),
    st.text(max_size=20),
    st.none(),
)
keys = st.text(min_size=1, max_size=12).filter(lambda k: k not in ("_step", "_timestamp", "_runtime") and "/" not in k)


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


@given(st.dictionaries(keys, scalars, max_size=8))
def test_row_encoding_round_trips_exactly(row: dict) -> None:
    import orjson

    flat, problems, nonfinite = normalize_row(row)
    assert problems == []
    assert nonfinite == any(isinstance(v, float) and not math.isfinite(v) for v in row.values())
    back = decode_row(orjson.loads(orjson.dumps(tag_row(flat))))
    assert back.keys() == row.keys()
    assert all(same(row[k], back[k]) for k in row)


trees = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=12,
)


@given(trees)
def test_tree_encoding_round_trips_dollar_keys_and_specials(tree: object) -> None:
    import orjson

    back = decode_tree(orjson.loads(orjson.dumps(encode_tree(tree))))
    assert orjson.dumps(encode_tree(back)) == orjson.dumps(encode_tree(tree))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(keys, scalars, min_size=1, max_size=6))
def test_logged_rows_read_back_through_the_store(row: dict) -> None:
    run = tracker_core.init(project="roundtrip")
    run.log(row)
    run.finish()
    history = tracker_core.Api().run(run.path).history()
    assert len(history) == 1
    assert all(same(row[k], history[0][k]) for k in row)


def test_config_keeps_nan_big_ints_and_dollar_keys() -> None:
    config = {"$f": "not a tag", "nested": {"inf": float("inf"), "big": 2**100}, "ünï": "ok"}
    run = tracker_core.init(project="roundtrip", config=config)
    run.finish()
    stored = tracker_core.Api().run(run.path).config
    assert stored == config


def test_numpy_and_torch_scalars_are_logged_as_numbers() -> None:
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    run = tracker_core.init(project="roundtrip")
    run.log({"np": np.float32(0.5), "np_int": np.int64(7), "arr0d": np.array(2.0), "t": torch.tensor(1.5),
             "flag": np.bool_(True), "nested": {"deep": np.float64(3.0)}})
    run.finish()
    row = tracker_core.Api().run(run.path).history()[0]
    assert row["np"] == 0.5 and row["np_int"] == 7 and row["arr0d"] == 2.0 and row["t"] == 1.5
    assert row["flag"] is True and row["nested/deep"] == 3.0

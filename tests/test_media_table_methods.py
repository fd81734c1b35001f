"""W&B's Table methods: add_column, get_column(convert_to="numpy"), iterrows, get_index, add_computed_columns."""

from __future__ import annotations

import pytest

import tracker_core
from tracker_core import MediaError, Table

np = pytest.importorskip("numpy")


def test_add_column_appends_one_value_per_row_and_can_build_a_table_from_nothing() -> None:
    table = Table(columns=["x"], data=[[1], [2], [3]])
    table.add_column("y", [10, 20, 30])
    table.add_column("z", np.array([0.5, 1.5, 2.5]))
    assert table.columns == ["x", "y", "z"] and table.data == [[1, 10, 0.5], [2, 20, 1.5], [3, 30, 2.5]]
    empty = Table(columns=[])
    empty.add_column("a", ["p", "q"])
    assert empty.data == [["p"], ["q"]] and len(empty) == 2


@pytest.mark.parametrize(("call", "message"), [
    (lambda t: t.add_column("x", [1, 2]), "duplicate names"),
    (lambda t: t.add_column("y", [1]), "one value per row (2)"),
    (lambda t: t.add_column("y", "ab"), "a list, tuple or numpy array"),
    (lambda t: t.add_column("y", [1, {"a": 1}]), "column 'y'"),
    (lambda t: t.get_column("x", convert_to="pandas"), 'None or "numpy"'),
    (lambda t: t.add_computed_columns(lambda i, row: [i]), "a dict of new column name"),
    (lambda t: t.add_computed_columns(lambda i, row: {f"c{i}": 1}), "the same columns for every row"),
])
def test_bad_column_calls_raise_and_leave_the_table_unchanged(call, message) -> None:
    table = Table(columns=["x"], data=[[1], [2]])
    with pytest.raises(MediaError) as caught:
        call(table)
    assert message in str(caught.value)
    assert table.columns == ["x"] and table.data == [[1], [2]]


def test_get_column_converts_to_numpy_including_image_pixels() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (4, 3, 3), dtype=np.uint8)
    table = Table(columns=["v", "img"], data=[[1.5, tracker_core.Image(pixels)], [2.5, tracker_core.Image(pixels)]])
    values = table.get_column("v", convert_to="numpy")
    assert isinstance(values, np.ndarray) and values.tolist() == [1.5, 2.5]
    images = table.get_column("img", convert_to="numpy")
    assert images.shape == (2, 4, 3, 3) and (images[1] == pixels).all()
    assert table.get_column("v") == [1.5, 2.5]


def test_iterrows_get_index_and_computed_columns_follow_wandb() -> None:
    table = Table(columns=["x", "y"], data=[[3, 1], [4, 6]])
    assert list(table.iterrows()) == [(0, [3, 1]), (1, [4, 6])]
    assert table.get_index() == [0, 1]
    table.add_computed_columns(lambda ndx, row: {"diff": row["x"] - row["y"], "ndx": ndx})
    assert table.columns == ["x", "y", "diff", "ndx"] and table.data == [[3, 1, 2, 0], [4, 6, -2, 1]]


def test_a_table_built_column_by_column_is_logged_and_read_back() -> None:
    table = Table(columns=["id"], data=[[i] for i in range(3)])
    table.add_column("score", [0.1, float("nan"), 0.3])
    table.add_computed_columns(lambda ndx, row: {"label": f"item-{row['id']}"})
    run = tracker_core.init(project="tables")
    run.log({"t": table})
    run.finish()
    ref = tracker_core.Api().run(run.path).history()[0]["t"]
    rows = ref.rows()
    assert ref.columns == ["id", "score", "label"] and [r[2] for r in rows] == ["item-0", "item-1", "item-2"]
    assert rows[1][1] != rows[1][1] and rows[2][1] == 0.3  # NaN round-trips

"""A bad value or key is left out with one clear warning; the rest of the row is logged; strict mode raises."""

from __future__ import annotations

import warnings

import pytest

import tracker_core
from tracker_core import LogValueError, TrackerWarning


def test_bad_values_are_skipped_with_one_warning_naming_key_and_type() -> None:
    run = tracker_core.init(project="bad")
    with pytest.warns(TrackerWarning, match=r"'weights'.*list") as caught:
        run.log({"loss": 0.5, "weights": [1, 2, 3]})
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run.log({"loss": 0.4, "weights": [4]})  # the same key again: no second warning
    run.finish()
    history = tracker_core.Api().run(run.path).history()
    assert [row["loss"] for row in history] == [0.5, 0.4]
    assert all("weights" not in row for row in history)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"obj": object()}, "object"),
        ({"": 1.0}, "empty key"),
        ({3: 1.0}, "int"),
        ({"_step": 4}, "reserved"),
        ({"nested": {"deep": {1, 2}}}, "set"),
    ],
)
def test_each_kind_of_bad_entry_is_reported(data: dict, match: str) -> None:
    run = tracker_core.init(project="bad")
    with pytest.warns(TrackerWarning, match=match):
        run.log({**data, "good": 1})
    run.finish()
    assert tracker_core.Api().run(run.path).history()[0]["good"] == 1


def test_an_array_in_a_scalar_slot_names_its_shape() -> None:
    np = pytest.importorskip("numpy")
    run = tracker_core.init(project="bad")
    with pytest.warns(TrackerWarning, match=r"shape \(3,\)"):
        run.log({"t": np.zeros(3), "good": 1})


def test_non_mapping_data_is_reported_not_raised() -> None:
    run = tracker_core.init(project="bad")
    with pytest.warns(TrackerWarning, match="dict"):
        run.log([1, 2, 3])  # type: ignore[arg-type]
    run.finish()


def test_strict_mode_raises_a_type_error() -> None:
    run = tracker_core.init(project="bad", strict=True)
    with pytest.raises(LogValueError) as raised:
        run.log({"loss": 0.5, "obj": object()})
    assert isinstance(raised.value, TypeError)
    assert "obj" in str(raised.value)


def test_strict_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_STRICT", "1")
    run = tracker_core.init(project="bad")
    with pytest.raises(LogValueError):
        run.log({"obj": object()})


def test_a_string_utf8_cannot_encode_is_left_out_and_the_rest_of_the_row_kept() -> None:
    import os

    name = os.fsdecode(b"img_\xff.png")  # a lone surrogate, as file names from a foreign locale give
    with pytest.warns(TrackerWarning, match="'path'.*not valid Unicode"):
        run = tracker_core.init(project="bad", config={"path": name, "lr": 0.1})
    with pytest.warns(TrackerWarning, match="'file'.*not valid Unicode"):
        run.log({"loss": 0.5, "file": name})
    run.finish()
    stored = tracker_core.Api().run(run.path)
    assert stored.history()[0]["loss"] == 0.5 and "file" not in stored.history()[0]
    assert stored.config == {"lr": 0.1} and stored.records_not_written == 0

"""Grouped run sets' pure parts: which fields group, each run's key, groups in first-run order, and the line and
summary aggregates (non-numbers skipped, a run's repeated x counted once with its last value)."""

from __future__ import annotations

import pytest

from tracker_core.reports._groups import check_group, group_key, group_series, group_summary, grouped


def test_group_fields_and_keys() -> None:
    assert [check_group(f) for f in ("config.opt", "group", "job_type")] == [None, None, None]
    for bad in ("tags", "config.", "summary.acc", 3):
        assert "must be config.<key>, group or job_type" in (check_group(bad) or "")
    config = {"train": {"opt": "adam"}, "lr": 0.001, "layers": 4, "flag": True}
    assert group_key("config.train.opt", config, None, None) == "adam"
    assert [group_key(f"config.{k}", config, None, None) for k in ("lr", "layers", "flag")] == ["0.001", "4", "true"]
    assert group_key("config.missing", config, "g", "train") is None
    assert (group_key("group", config, "g", "train"), group_key("job_type", config, "g", None)) == ("g", None)
    assert grouped([("a", "x"), ("b", None), ("c", "x")]) == [{"key": "x", "runs": ["a", "c"], "count": 2},
                                                            {"key": None, "runs": ["b"], "count": 1}]


def test_series_and_summary_aggregates() -> None:
    series = group_series([{"x": [0, 1, 1, 2, 3], "y": [1, 2, 5, {"$f": "nan"}, "text"]},
                           {"x": [1, 2], "y": [3, 4]}, {"x": [], "y": []}])
    assert series == {"x": [0, 1, 2], "mean": [1.0, 4.0, 4.0], "min": [1.0, 3.0, 4.0], "max": [1.0, 5.0, 4.0],
                      "count": [1, 2, 1]}
    assert group_series([{"x": [0.5, 1], "y": [1, 2]}])["x"] == [0.5, 1.0]  # a float x keeps them floats
    assert group_series([]) == {"x": [], "mean": [], "min": [], "max": [], "count": []}
    assert group_summary([0.5, 0.25, None, {"$f": "inf"}, "x"]) == {"mean": pytest.approx(0.375), "min": 0.25,
                                                                    "max": 0.5, "count": 2}
    assert group_summary([]) == {"mean": None, "min": None, "max": None, "count": 0}

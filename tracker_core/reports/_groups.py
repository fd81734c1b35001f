"""Grouped run sets: a run set's ``group`` field splits its runs into groups, one per value of that field.

``group`` is ``config.<key>`` (a config value, nested keys with dots), ``group`` (the run's group name) or
``job_type``. A group's ``key`` is the value as text (``None`` for runs without the field); groups come in the
order their first run has in the run set. A line panel's group series is computed from the runs' full
histories: at each x that any run of the group logged (with a finite y), the mean, min and max of y over the
runs that logged that x, and how many they are (``count``); a run that logged one x twice counts with its last
value there. Bar, scalar and best panels get the mean, min and max of each group's summary metric over the
runs that have a finite one (a bool counts as 0 or 1). Pure functions: nothing here reads a server or a file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

from tracker_core._query import MISSING, lookup
from tracker_core.reports._charts import text_of

__all__ = ["GROUP_FIELDS", "check_group", "group_key", "group_series", "group_summary", "grouped"]

GROUP_FIELDS = "config.<key>, group or job_type"
"""What a run set's ``group`` may name (for messages)."""


def check_group(field: Any) -> str | None:
    """Why ``field`` cannot group a run set (None when it can)."""
    if field in ("group", "job_type") or (isinstance(field, str) and field.startswith("config.") and len(field) > 7):
        return None
    return f"run set `group` must be {GROUP_FIELDS}, not {field!r}"


def group_key(field: str, config: Mapping[str, Any], group_name: str | None, job_type: str | None) -> str | None:
    """A run's value of the group ``field`` as text; None when the run has none."""
    if field == "group":
        return group_name
    if field == "job_type":
        return job_type
    value = lookup(SimpleNamespace(config=config), field)
    return None if value is MISSING or value is None else text_of(value)


def grouped(keys: Sequence[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """``(run id, key)`` pairs as groups ``{"key", "runs", "count"}``, in the order of each key's first run."""
    groups: dict[str | None, list[str]] = {}
    for run_id, key in keys:
        groups.setdefault(key, []).append(run_id)
    return [{"key": key, "runs": runs, "count": len(runs)} for key, runs in groups.items()]


def _finite(value: Any) -> float:
    """A number (a bool as 0 or 1) as a float; NaN for anything else."""
    return float(value) if isinstance(value, int | float) else math.nan


def _numbers(values: Sequence[Any]) -> tuple[np.ndarray, bool]:
    """``values`` as floats (a bool as 0 or 1; NaN where no number: tagged NaN/inf, text, media) and whether all
    were integers; a plain list of numbers converts at once."""
    try:
        array = np.asarray(values)
    except ValueError:  # ragged nested values
        array = np.asarray([], dtype=object)
    if array.ndim == 1 and array.dtype.kind in "biuf":
        return array.astype(float), array.dtype.kind in "iu"
    out = np.array([_finite(v) for v in values], dtype=float)
    return out, all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def group_series(series: Sequence[Mapping[str, Sequence[Any]]]) -> dict[str, list[Any]]:
    """The group's line from its runs' series (``{"x", "y"}`` each): ``{"x", "mean", "min", "max", "count"}``
    at every x any run logged with a finite y, x ascending (integers stay integers)."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    integer = True
    for one in series:
        n = min(len(one.get("x") or []), len(one.get("y") or []))
        x, whole = _numbers(list(one.get("x") or [])[:n])
        y, _ = _numbers(list(one.get("y") or [])[:n])
        keep = np.isfinite(x) & np.isfinite(y)
        x, y = x[keep], y[keep]
        if not len(x):
            continue
        integer = integer and whole
        _, last = np.unique(x[::-1], return_index=True)  # one point per x: the run's last value there
        index = len(x) - 1 - last
        xs.append(x[index])
        ys.append(y[index])
    if not xs:
        return {"x": [], "mean": [], "min": [], "max": [], "count": []}
    x_all, y_all = np.concatenate(xs), np.concatenate(ys)
    at, inverse = np.unique(x_all, return_inverse=True)
    count = np.bincount(inverse, minlength=len(at))
    mean = np.bincount(inverse, weights=y_all, minlength=len(at)) / count
    low = np.full(len(at), np.inf)
    high = np.full(len(at), -np.inf)
    np.minimum.at(low, inverse, y_all)
    np.maximum.at(high, inverse, y_all)
    return {"x": [int(v) for v in at] if integer else at.tolist(), "mean": mean.tolist(), "min": low.tolist(),
            "max": high.tolist(), "count": count.tolist()}


def group_summary(values: Sequence[Any]) -> dict[str, Any]:
    """``{"mean", "min", "max", "count"}`` over the finite numbers in ``values`` (None each when there are none)."""
    numbers = [n for v in values if math.isfinite(n := _finite(v))]
    if not numbers:
        return {"mean": None, "min": None, "max": None, "count": 0}
    return {"mean": sum(numbers) / len(numbers), "min": min(numbers), "max": max(numbers), "count": len(numbers)}

"""Which run is best on a metric, where it got there, and how its config stands out."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

__all__ = ["Best", "config_differences", "find_best", "metric_value"]


class Best(NamedTuple):
    """The winning run, its best value and the step it was reached at (None if only in the summary)."""

    run: Any
    value: float
    step: int | None
    ties: list[Any]


def metric_value(run: Any, metric: str, goal: str) -> tuple[float, int | None] | None:
    """A run's best value of ``metric`` over its whole history (else its numeric summary); NaN never counts."""
    extremes = run.extremes.get(metric)
    if extremes:
        return (extremes[0], extremes[1]) if goal == "min" else (extremes[2], extremes[3])
    value = run.summary.get(metric)
    if type(value) in (int, float) and not math.isnan(value):
        return float(value), None
    return None


def find_best(runs: Sequence[Any], metric: str, goal: str) -> Best | None:
    """The best run (ties go to the earliest created; the others are listed), or None if no run has the metric."""
    scored = [(found, run) for run in runs if (found := metric_value(run, metric, goal)) is not None]
    if not scored:
        return None
    sign = 1 if goal == "min" else -1
    scored.sort(key=lambda item: (sign * item[0][0], item[1].created_at.timestamp() if item[1].created_at else 0))
    (value, step), winner = scored[0]
    ties = [run for (other, _), run in scored[1:] if other == value]
    return Best(winner, value, step, ties)


def config_differences(best: Any, others: Sequence[Any], flatten: Any) -> dict[str, tuple[Any, list[tuple[Any, int]]]]:
    """Config keys where ``best`` differs from some other run: key -> (its value, [(other value, count), ...])."""
    mine = flatten(best.config)
    seen: dict[str, Counter[str]] = {}
    examples: dict[tuple[str, str], Any] = {}
    for run in others:
        theirs = flatten(run.config)
        for key in set(mine) | set(theirs):
            value = theirs.get(key, "<unset>")
            token = repr(value)
            seen.setdefault(key, Counter())[token] += 1
            examples[(key, token)] = value
    differences = {}
    for key, counter in sorted(seen.items()):
        own = mine.get(key, "<unset>")
        other_values = [(examples[(key, token)], n) for token, n in counter.most_common() if token != repr(own)]
        if other_values:
            differences[key] = (own, other_values)
    return differences

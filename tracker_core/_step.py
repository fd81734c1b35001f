"""Metric rules (define_metric) and summary aggregation.

Pure bookkeeping shared by the writer (live summary) and the reader (replay).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from tracker_core._errors import SettingsError

__all__ = ["SUMMARY_OPTIONS", "MetricDefinition", "MetricRules", "Plateaus", "Stall", "SummaryBuilder", "define"]

SUMMARY_OPTIONS = ("min", "max", "mean", "first", "last", "best", "none")
GOALS = {"minimize": "min", "maximize": "max", "min": "min", "max": "max"}
OUT_OF_ORDER_KEY = "_tracker/out_of_order_records"


class MetricDefinition(NamedTuple):
    """How one metric (or glob of metrics) is stepped and summarised."""

    name: str
    step_metric: str | None = None
    summary: tuple[str, ...] = ()
    goal: str | None = None
    hidden: bool = False
    step_sync: bool = True
    alert_after: int | None = None  # alert when the metric has not improved for this many evaluations

    def record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"name": self.name, "step_metric": self.step_metric, "summary": list(self.summary),
                                  "goal": self.goal, "hidden": self.hidden, "step_sync": self.step_sync}
        if self.alert_after is not None:
            record["alert_after"] = self.alert_after
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> MetricDefinition:
        alert_after = record.get("alert_after")
        return cls(record["name"], record.get("step_metric"), tuple(record.get("summary") or ()),
                   record.get("goal"), bool(record.get("hidden")), bool(record.get("step_sync", True)),
                   alert_after if type(alert_after) is int else None)

    def direction(self) -> str | None:
        """'min' or 'max': what counts as better, from the goal, else from a lone min/max summary."""
        if self.goal:
            return GOALS[self.goal]
        extremes = {"min", "max"}.intersection(self.summary)
        return extremes.pop() if len(extremes) == 1 else None

    def aggregates(self) -> tuple[str, ...]:
        """The summary aggregates to keep, 'best' resolved through the goal."""
        resolved = []
        for option in self.options():
            if option == "best":
                option = GOALS[self.goal or "minimize"]
            if option not in resolved:
                resolved.append(option)
        return tuple(resolved)

    def options(self) -> tuple[str, ...]:
        """The summary options as asked for ('best' kept as such); a goal alone means 'best'."""
        return self.summary or (("best",) if self.goal else ())

    def merged(self, later: MetricDefinition) -> MetricDefinition:
        """This definition updated by a later ``define_metric`` call for the same name, as W&B merges
        them: summary options accumulate; a later axis, goal or ``alert_after`` replaces an earlier one."""
        summary = self.summary + tuple(o for o in later.summary if o not in self.summary)
        return later._replace(summary=summary, step_metric=later.step_metric or self.step_metric,
                              goal=later.goal or self.goal, hidden=later.hidden or self.hidden,
                              alert_after=later.alert_after or self.alert_after)


def define(name: object, step_metric: object = None, summary: object = None, goal: object = None,
           hidden: object = False, step_sync: object = True, alert_after: object = None) -> MetricDefinition:
    """Validate define_metric arguments.

    Raises:
        SettingsError: a wrong type or an unknown summary/goal option.
    """
    if not isinstance(name, str) or not name:
        raise SettingsError("define_metric name", f"{name!r} is not a non-empty string",
                            "pass a metric name such as 'val/loss' or a glob such as 'val/*'")
    if step_metric is not None and (not isinstance(step_metric, str) or not step_metric):
        raise SettingsError("step_metric", f"{step_metric!r} is not a metric name",
                            "pass the name of the metric used as x-axis, e.g. step_metric='epoch'")
    if step_metric is not None and step_metric == name:
        raise SettingsError("step_metric", f"{step_metric!r} would be its own axis",
                            "choose another metric as the x-axis, e.g. step_metric='epoch'")
    options: tuple[str, ...] = ()
    if summary is not None:
        if not isinstance(summary, str):
            raise SettingsError("summary", f"{summary!r} is not a string",
                                "pass e.g. summary='min' or summary='min,max'")
        options = tuple(part.strip() for part in summary.split(",") if part.strip())
        unknown = [o for o in options if o not in SUMMARY_OPTIONS]
        if unknown:
            raise SettingsError("summary", f"unknown option(s) {unknown}",
                                "choose from " + ", ".join(SUMMARY_OPTIONS))
    if goal is not None and goal not in GOALS:
        raise SettingsError("goal", f"{goal!r} is not a goal", "use 'minimize' or 'maximize'")
    for flag_name, flag in (("hidden", hidden), ("step_sync", step_sync)):
        if not isinstance(flag, bool):
            raise SettingsError(flag_name, f"{flag!r} is not a bool", f"pass {flag_name}=True or False")
    goal_word = {"min": "minimize", "max": "maximize"}.get(str(goal), str(goal)) if goal else None
    definition = MetricDefinition(name, step_metric, options, goal_word, bool(hidden), bool(step_sync))
    if alert_after is None:
        return definition
    if type(alert_after) is not int or alert_after < 1:
        raise SettingsError("alert_after", f"{alert_after!r} is not a count of evaluations",
                            "pass an int >= 1, e.g. alert_after=5")
    if definition.direction() is None:
        raise SettingsError("alert_after", f"{name!r} has no direction to improve in",
                            "pass goal='minimize' or goal='maximize' too")
    return definition._replace(alert_after=alert_after)


class MetricRules:
    """The run's metric definitions; an exact name wins over globs, and later globs over earlier.

    A glob does not cover its own step metric (``define_metric("train/*", step_metric="train/step")``),
    and a second definition of the same name is merged into the first (``MetricDefinition.merged``).
    """

    def __init__(self, definitions: Iterable[MetricDefinition] = ()) -> None:
        self._exact: dict[str, MetricDefinition] = {}
        self._globs: list[MetricDefinition] = []
        self._cache: dict[str, MetricDefinition | None] = {}
        self.step_metrics: set[str] = set()
        self.active = False  # any definition yet; a plain attribute, read on every log()
        for definition in definitions:
            self.add(definition)

    def __bool__(self) -> bool:
        return self.active

    def add(self, definition: MetricDefinition) -> None:
        if any(c in definition.name for c in "*?["):
            earlier = [d for d in self._globs if d.name == definition.name]
            if earlier:
                definition = earlier[0].merged(definition)
            self._globs = [d for d in self._globs if d.name != definition.name] + [definition]
        else:
            earlier_exact = self._exact.get(definition.name)
            self._exact[definition.name] = earlier_exact.merged(definition) if earlier_exact else definition
        if definition.step_metric:
            self.step_metrics.add(definition.step_metric)
        self._cache.clear()
        self.active = True

    def definitions(self) -> list[MetricDefinition]:
        return [*self._exact.values(), *self._globs]

    def rule_for(self, key: str) -> MetricDefinition | None:
        try:
            return self._cache[key]
        except KeyError:
            pass
        rule = self._exact.get(key)
        if rule is None:
            for glob in reversed(self._globs):
                if glob.step_metric != key and fnmatch.fnmatchcase(key, glob.name):
                    rule = glob
                    break
        self._cache[key] = rule
        return rule

    def has_own_axis(self, key: str) -> bool:
        """True for metrics with a step_metric and for the step metrics themselves."""
        if key in self.step_metrics:
            return True
        rule = self.rule_for(key)
        return rule is not None and rule.step_metric is not None

    def sync_step_metrics(self, row: dict[str, Any], latest: Mapping[str, Any]) -> dict[str, Any] | None:
        """A copy of ``row`` with missing step-metric values filled from ``latest``, or None if complete."""
        missing = {}
        for key in row:
            rule = self.rule_for(key)
            axis = rule.step_metric if rule and rule.step_sync else None
            if axis and axis not in row and axis in latest:
                missing[axis] = latest[axis]
        return {**row, **missing} if missing else None


def _is_number(value: object) -> bool:
    return type(value) in (int, float) and not (type(value) is float and math.isnan(value))


class Stall(NamedTuple):
    """A metric that has not improved for ``evaluations`` values since its best."""

    key: str
    evaluations: int
    best: float
    best_step: int
    latest: float
    step: int


class Plateaus:
    """Counts, per metric with ``alert_after``, the values logged since its best one.

    ``observe`` returns a ``Stall`` when that count reaches ``alert_after``: once per plateau, since
    the count starts again only when the metric improves. NaN and non-numbers do not count.
    """

    def __init__(self, rules: MetricRules) -> None:
        self._rules = rules
        self._best: dict[str, tuple[float, int]] = {}
        self._since: dict[str, int] = {}
        self.active = any(d.alert_after for d in rules.definitions())  # read on every log()

    def observe(self, row: Mapping[str, Any], step: int) -> list[Stall]:
        stalls = []
        for key, value in row.items():
            rule = self._rules.rule_for(key)
            if rule is None or not rule.alert_after or not _is_number(value):
                continue
            best = self._best.get(key)
            if best is None or (value < best[0] if rule.direction() == "min" else value > best[0]):
                self._best[key], self._since[key] = (value, step), 0
                continue
            self._since[key] += 1
            if self._since[key] == rule.alert_after:
                stalls.append(Stall(key, rule.alert_after, best[0], best[1], value, step))
        return stalls


class SummaryBuilder:
    """Folds logged rows into a summary: the last value per key, or define_metric's aggregates."""

    def __init__(self, rules: MetricRules) -> None:
        self.rules = rules
        self.last: dict[str, Any] = {}
        self._first: dict[str, Any] = {}
        self._min: dict[str, Any] = {}
        self._max: dict[str, Any] = {}
        self._sum: dict[str, float] = {}
        self._count: dict[str, int] = {}
        self.overrides: dict[str, Any] = {}
        self.removed: set[str] = set()
        self.out_of_order = 0

    def set(self, values: dict[str, Any]) -> None:
        """Explicit values that win over what the metrics say."""
        self.overrides.update(values)
        self.removed.difference_update(values)

    def unset(self, keys: Iterable[str]) -> None:
        """Drop keys from the summary until they are set again."""
        for key in keys:
            self.overrides.pop(key, None)
            self.removed.add(key)

    def add(self, row: Mapping[str, Any]) -> None:
        """Fold one logged row in. Cheap when no metric is defined."""
        self.last.update(row)
        if not self.rules.active:
            return
        for key, value in row.items():
            rule = self.rules.rule_for(key)
            if rule is None or not (rule.summary or rule.goal):
                continue
            self._first.setdefault(key, value)
            if not _is_number(value):
                continue
            if key not in self._min or value < self._min[key]:
                self._min[key] = value
            if key not in self._max or value > self._max[key]:
                self._max[key] = value
            try:
                self._sum[key] = self._sum.get(key, 0.0) + value
            except OverflowError:  # an integer beyond the float range: it counts for min/max only
                continue
            self._count[key] = self._count.get(key, 0) + 1

    def _aggregate(self, key: str, option: str) -> Any:
        if option == "last":
            return self.last.get(key)
        if option == "first":
            return self._first.get(key)
        if option == "mean":
            count = self._count.get(key)
            return self._sum[key] / count if count else None
        return (self._min if option == "min" else self._max).get(key)

    def snapshot(self) -> dict[str, Any]:
        """The summary: aggregates (one option: a value; several: a dict), then explicit overrides."""
        return self._summary(wandb_shape=False)

    def wandb_snapshot(self) -> dict[str, Any]:
        """The summary as W&B shapes it: a metric with summary options (or a goal) reads as a dict of
        option -> value under W&B's names (``{"min": v}``, ``{"best": v}``), even for one option; the
        rest as in ``snapshot``."""
        return self._summary(wandb_shape=True)

    def _summary(self, wandb_shape: bool) -> dict[str, Any]:
        summary: dict[str, Any] = {}
        for key in self.last:
            rule = self.rules.rule_for(key) if self.rules else None
            options = () if rule is None else rule.options() if wandb_shape else rule.aggregates()
            if rule is None or not options:
                summary[key] = self.last[key]
            elif options != ("none",):
                best = GOALS[rule.goal or "minimize"]
                values = {o: self._aggregate(key, best if o == "best" else o) for o in options if o != "none"}
                summary[key] = next(iter(values.values())) if len(values) == 1 and not wandb_shape else values
        summary.update(self.overrides)
        for key in self.removed:
            summary.pop(key, None)
        if self.out_of_order:
            summary[OUT_OF_ORDER_KEY] = self.out_of_order
        return summary

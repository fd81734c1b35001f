"""Listing runs with the local filter language, pushed into SQL where the answer is the same.

A filter conjunct is *pushed* when SQL decides it exactly as ``tracker_core._query`` would:
numeric comparisons on ``config.*``/``summary.*`` (through the indexed value tables), states
(``running``/``crashed`` from the heartbeat's age), text equality on names, and ``created_at``
ranges. When every conjunct is pushed and the order is too, SQL filters, sorts and pages;
otherwise SQL narrows the candidates and the rest is decided in Python by the same code the
local ``Api().runs`` uses.

A listing can be scoped to a sweep (``sweep``: the sweep's primary key): only its trials' runs, decided in SQL
from ``sweep_trials`` (a sweep of thousands of trials needs no list of run ids in the request).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, and_, case, func, literal, select
from sqlalchemy.orm import Session, aliased

from tracker_core._encoding import decode_tree
from tracker_core._errors import SettingsError
from tracker_core._query import check_field, compile_filters, parse_expression, sort_runs
from tracker_server._errors import ApiError
from tracker_server._models import ConfigValue, MetricBest, Run, SummaryValue, SweepTrial
from tracker_server._run_view import STALE_SLACK, effective_state

__all__ = ["Candidate", "parse_filters", "query_runs"]

_FINAL_STATES = ("finished", "failed", "killed", "stopped")
_TEXT_COLUMNS = {"group": Run.group_name, "job_type": Run.job_type, "notes": Run.notes}
_COMPARE = {"$lt": "__lt__", "$lte": "__le__", "$gt": "__gt__", "$gte": "__ge__"}


def parse_filters(texts: Sequence[str]) -> dict[str, Any]:
    """Filter expressions (``config.lr<1e-3``) or JSON objects in the MongoDB-style form, all of which must hold.

    Raises:
        ApiError: 400 for an expression, field or operator the filter language does not know.
    """
    parts: list[Any] = []
    try:
        for text in texts:
            if text.lstrip().startswith("{"):
                try:
                    parsed = orjson.loads(text)
                except orjson.JSONDecodeError as error:
                    raise ApiError(400, "invalid_filter", f"filter {text!r} is not JSON: {error}") from None
                if not isinstance(parsed, dict):
                    raise ApiError(400, "invalid_filter", f"filter {text!r} is not an object")
                parts.append(parsed)
            else:
                parts.append(parse_expression(text))
        merged = {"$and": parts}
        compile_filters(merged)
    except SettingsError as error:
        raise ApiError(400, "invalid_filter", str(error)) from None
    except (TypeError, AttributeError) as error:
        raise ApiError(400, "invalid_filter", f"the filter is not of the filter language's form: {error}") from None
    return merged


def _conjuncts(filters: Mapping[str, Any]) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for field, condition in filters.items():
        if field == "$and" and isinstance(condition, list):
            for part in condition:
                found.extend(_conjuncts(part) if isinstance(part, Mapping) else [("$invalid", part)])
        else:
            found.append((field, condition))
    return found


def _fresh_until() -> ColumnElement[Any]:
    """The time until which a running run's last activity keeps it ``running``."""
    return func.coalesce(Run.heartbeat_at, Run.created_at) + 3.0 * Run.heartbeat_interval + STALE_SLACK


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _pushed(field: str, op: str, target: Any, now: float, project_id: int) -> ColumnElement[bool] | None:
    """The SQL condition deciding ``field op target`` exactly as the local filter does, else None."""
    if field.startswith(("config.", "summary.")) and op in _COMPARE and _is_number(target):
        model: Any = ConfigValue if field.startswith("config.") else SummaryValue
        key = field.partition(".")[2]
        column = getattr(model.num, _COMPARE[op])(target)
        return Run.id.in_(select(model.run_pk).where(model.project_id == project_id, model.key == key, column))
    if field == "status" and op == "$eq" and isinstance(target, str):
        if target in _FINAL_STATES:
            return Run.state == target
        if target == "running":
            return and_(Run.state == "running", _fresh_until() >= now)
        if target == "crashed":
            return and_(Run.state == "running", _fresh_until() < now)
        return literal(False)
    if op == "$eq" and isinstance(target, str):
        if field in _TEXT_COLUMNS:
            return _TEXT_COLUMNS[field] == target
        if field == "name":
            return func.coalesce(Run.name, Run.run_id) == target
        if field == "id":
            return Run.run_id == target
    if field == "created_at" and op in _COMPARE and _is_number(target):
        return getattr(Run.created_at, _COMPARE[op])(target)  # type: ignore[no-any-return]
    return None


def _split(filters: Mapping[str, Any], now: float, project_id: int,
           sweep: int | None = None) -> tuple[list[ColumnElement[bool]], bool]:
    """SQL conditions for the pushable conjuncts (and the sweep scope), and whether they decide the whole filter."""
    conditions: list[ColumnElement[bool]] = []
    if sweep is not None:
        conditions.append(Run.run_id.in_(select(SweepTrial.run_id).where(SweepTrial.sweep_pk == sweep)))
    exact = True
    for field, condition in _conjuncts(filters):
        if field.startswith("$"):
            exact = False
            continue
        ops = condition if isinstance(condition, Mapping) else {"$eq": condition}
        for op, target in ops.items():
            pushed = _pushed(field, op, target, now, project_id)
            if pushed is None:
                exact = False
            else:
                conditions.append(pushed)
    return conditions, exact


class Candidate:
    """A stored run seen by the local filter and sort code (the ``Queryable`` fields)."""

    def __init__(self, run: Any, team: str, now: float) -> None:
        self.row = run
        self.id = run.run_id
        self.name = run.name or run.run_id
        self.status = effective_state(run, now)
        self.group, self.job_type, self.notes = run.group_name, run.job_type, run.notes
        self.tags = orjson.loads(run.tags)
        self.entity = team
        self.exit_code = run.exit_code
        self.created_at = datetime.datetime.fromtimestamp(run.created_at, tz=datetime.UTC)
        end = run.ended_at or run.heartbeat_at
        self.duration = max(0.0, end - run.created_at) if end else None
        self.config: dict[str, Any] = decode_tree(orjson.loads(run.config))  # type: ignore[assignment]
        self.summary: dict[str, Any] = decode_tree(orjson.loads(run.summary))  # type: ignore[assignment]


def _order_by(query: Select[Any], order: str | None) -> tuple[Select[Any], bool]:
    """The query sorted like ``sort_runs``; False when SQL cannot sort that field."""
    tail = (Run.created_at, Run.run_id)
    if not order:
        return query.order_by(*tail), True
    descending = order.startswith("-")
    field = order.lstrip("+-")
    if field == "created_at":
        return query.order_by(Run.created_at.desc() if descending else Run.created_at, Run.run_id), True
    if not field.startswith(("config.", "summary.")):
        return query, False
    model: Any = aliased(ConfigValue if field.startswith("config.") else SummaryValue)
    query = query.outerjoin(model, and_(model.run_pk == Run.id, model.key == field.partition(".")[2]))
    if descending:  # sort_runs reversed: text before numbers, each descending; the rest last
        rank = case((model.text.is_not(None), 0), (model.num.is_not(None), 1), else_=2)
        return query.order_by(rank, model.text.desc(), model.num.desc(), *tail), True
    rank = case((model.num.is_not(None), 0), (model.text.is_not(None), 1), else_=2)
    return query.order_by(rank, model.num, model.text, *tail), True


RUN_COLUMNS = [column for column in Run.__table__.c if column.name != "fold"]
"""A run's columns but its replay state: listings read rows, not ORM objects (a fifth of the cost)."""


def query_runs(session: Session, project_id: int, team: str, filters: Mapping[str, Any], order: str | None,
               limit: int, offset: int, now: float, sweep: int | None = None) -> tuple[list[Any], int]:
    """One page of the project's matching runs (of the sweep's trials only, given its primary key ``sweep``),
    sorted, and how many match in all.

    Raises:
        ApiError: 400 for an unknown order field.
    """
    if order:
        try:
            check_field(order.lstrip("+-"))
        except SettingsError as error:
            raise ApiError(400, "invalid_order", str(error)) from None
    conditions, exact = _split(filters, now, project_id, sweep)
    base = select(*RUN_COLUMNS).where(Run.project_id == project_id, *conditions)
    ordered, sql_order = _order_by(base, order)
    if exact and sql_order:
        total = session.scalar(select(func.count(Run.id)).where(Run.project_id == project_id, *conditions)) or 0
        return list(session.execute(ordered.limit(limit).offset(offset)).all()), total
    match = compile_filters(filters)
    candidates = [Candidate(run, team, now) for run in session.execute(base.order_by(Run.created_at, Run.run_id))]
    kept = sort_runs([c for c in candidates if match(c)], order)
    return [c.row for c in kept[offset:offset + limit]], len(kept)


def best_run(session: Session, project_id: int, team: str, metric: str, goal: str, filters: Mapping[str, Any],
             now: float, sweep: int | None = None) -> tuple[Any, float, int | None] | None:
    """The run with the best value of ``metric`` over its history (ties: the earliest created), like ``find_best``;
    ``sweep`` (a sweep's primary key): among its trials' runs only."""
    conditions, exact = _split(filters, now, project_id, sweep)
    value = MetricBest.min_value if goal == "min" else MetricBest.max_value
    step = MetricBest.min_step if goal == "min" else MetricBest.max_step
    query = (select(*RUN_COLUMNS, value.label("best_value"), step.label("best_step"))
             .join(MetricBest, MetricBest.run_pk == Run.id)
             .where(MetricBest.project_id == project_id, MetricBest.key == metric, Run.project_id == project_id,
                    *conditions)
             .order_by(value if goal == "min" else value.desc(), Run.created_at, Run.run_id))
    if exact:
        row = session.execute(query.limit(1)).first()
        return (row, row.best_value, row.best_step) if row else None
    match = compile_filters(filters)
    for row in session.execute(query):
        if match(Candidate(row, team, now)):
            return row, row.best_value, row.best_step
    return None

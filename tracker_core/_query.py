"""Filters and ordering for ``Api.runs()``: a small subset of MongoDB's query language.

A filter is a dict of *field* -> condition, all of which must hold::

    {"status": "finished", "tags": "phase-1", "config.learning_rate": {"$lt": 1e-3},
     "summary.val/accuracy": {"$gte": 0.9}, "$or": [{"group": "a"}, {"group": "b"}]}

or a list of expressions such as ``"config.learning_rate<1e-3"`` (operators
``= != < <= > >= ~``, where ``~`` is a regular-expression search). A condition is a plain
value (equality; for ``tags``, membership) or a dict of ``$eq $ne $lt $lte $gt $gte $in
$nin $exists $regex`` (with ``$options: "i"`` etc. for the regex's flags) and ``$not``, which negates a
dict of those (``{"config.lr": {"$not": {"$lt": 0.01}}}``) or a regex given as text. Fields: ``id name
status group job_type tags notes entity exit_code created_at duration``, ``config.<key>`` (nested
keys with dots) and ``summary.<key>``. A run without the field matches only ``$ne``, ``$nin``, ``$not``
and ``$exists: false``; NaN matches no comparison. ``$and``, ``$or`` and ``$nor`` combine lists of filters.

W&B's field names work too (``Api().runs(path, filters=..., order=...)`` as written for W&B):
``state`` (status), ``displayName`` (name), ``createdAt`` (compared with ISO-8601 text, UTC
when no zone is given), ``jobType``, ``description`` (notes), ``config.<key>.value`` (W&B wraps
each config value in ``{"value": ...}``; here it is ``config.<key>``) and
``summary_metrics.<key>``, read from the W&B-shaped summary (``StoredRun.summary_metrics``:
``summary_metrics.val/loss.min`` for a metric defined with ``summary="min"``). W&B's ``name``
filter is the run id; here ``name`` is the display name, and the id is ``id``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import orjson

from tracker_core._errors import SettingsError

__all__ = ["MISSING", "compile_filters", "lookup", "sort_runs"]

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
FIELDS = ("id", "name", "status", "group", "job_type", "tags", "notes", "entity", "exit_code",
          "created_at", "duration")
ALIASES = {"state": "status", "displayName": "name", "display_name": "name", "createdAt": "created_at",
           "jobType": "job_type", "description": "notes"}
"""W&B's field names -> this project's."""
_WANDB_SUMMARY = "summary_metrics."
_EXPRESSION = re.compile(r"^\s*([^<>=!~\s]+)\s*(<=|>=|!=|=|<|>|~)\s*(.*?)\s*$")
_SYMBOLS = {"=": "$eq", "!=": "$ne", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "~": "$regex"}


class Queryable(Protocol):
    config: dict[str, Any]
    summary: dict[str, Any]
    # ``summary_metrics`` (the W&B-shaped summary) is read when present, else ``summary``


def _nested(tree: Any, path: str) -> Any:
    """``tree[path]``, else the dotted path walked through nested dicts."""
    if isinstance(tree, dict) and path in tree:
        return tree[path]
    head, dot, rest = path.partition(".")
    while dot:
        if isinstance(tree, dict) and head in tree:
            found = _nested(tree[head], rest)
            if found is not MISSING:
                return found
        more_head, dot, rest = rest.partition(".")
        head = f"{head}.{more_head}"
    return MISSING


_TEXT_FIELDS = frozenset({"id", "name", "status", "group", "job_type", "tags", "notes", "entity"})


def check_field(field: str) -> str:
    """``field`` itself if it names something a run has.

    Raises:
        SettingsError: an unknown field.
    """
    field = ALIASES.get(field, field)
    if field.startswith(("config.", "summary.", _WANDB_SUMMARY)) or field in FIELDS:
        return field
    raise SettingsError(f"field {field!r}", "not a run field",
                        "use config.<key>, summary.<key>, summary_metrics.<key> or one of "
                        + ", ".join(FIELDS + tuple(ALIASES)))


def lookup(run: Queryable, field: str) -> Any:
    """The value of a filter/sort field for one run, or MISSING.

    Raises:
        SettingsError: an unknown field.
    """
    field = ALIASES.get(field, field)
    if field.startswith("config."):
        found = _nested(run.config, field[7:])
        if found is MISSING and field.endswith(".value"):  # W&B's config.<key>.value
            found = _nested(run.config, field[7:-6])
        return found
    if field.startswith("summary."):
        return _nested(run.summary, field[8:])
    if field.startswith(_WANDB_SUMMARY):
        return _nested(getattr(run, "summary_metrics", run.summary), field[len(_WANDB_SUMMARY):])
    if field in FIELDS:
        value = getattr(run, field)
        if field == "created_at" and value is not None:
            return value.timestamp()
        return MISSING if value is None else value
    raise SettingsError(f"field {field!r}", "not a run field",
                        "use config.<key>, summary.<key> or one of " + ", ".join(FIELDS))


def _compare(op: str, value: Any, target: Any) -> bool:
    if op == "$exists":
        return (value is not MISSING) == bool(target)
    if op == "$ne":
        return not _compare("$eq", value, target)
    if op == "$nin":
        return not _compare("$in", value, target)
    if value is MISSING:
        return False
    if op == "$eq":
        return target in value if isinstance(value, list) and not isinstance(target, list) else value == target
    if op == "$in":
        targets = target if isinstance(target, (list, tuple, set)) else [target]
        return any(_compare("$eq", value, t) for t in targets)
    if op == "$regex":
        return isinstance(value, str) and re.search(str(target), value) is not None
    try:
        return bool({"$lt": value < target, "$lte": value <= target,
                     "$gt": value > target, "$gte": value >= target}[op])
    except TypeError:
        return False


def _parse_value(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return float(text)
        except ValueError:
            return text


def parse_expression(text: str) -> dict[str, Any]:
    """``"config.lr<1e-3"`` -> ``{"config.lr": {"$lt": 0.001}}``.

    Raises:
        SettingsError: the text is not ``field OP value``.
    """
    match = _EXPRESSION.match(text)
    if not match:
        raise SettingsError(f"filter {text!r}", "not of the form FIELD OP VALUE",
                            "e.g. config.lr<1e-3, status=finished, tags=phase-1, name~^bert")
    field, symbol, raw = match.groups()
    op = _SYMBOLS[symbol]
    if symbol == "~" or check_field(field) in _TEXT_FIELDS:
        return {field: {op: raw}}  # name=007 means the text "007"
    value = _parse_value(raw)
    if op in ("$eq", "$ne") and value != raw:  # config.seed=007 matches 7 or the text "007"
        return {field: {"$in" if op == "$eq" else "$nin": [value, raw]}}
    return {field: {op: value}}


def compile_filters(filters: Mapping[str, Any] | Sequence[str] | None) -> Callable[[Queryable], bool]:
    """A predicate over runs. Raises SettingsError for unknown operators, fields or expressions."""
    if filters is None:
        return lambda run: True
    if not isinstance(filters, Mapping):
        if isinstance(filters, str):
            filters = [filters]
        merged: dict[str, Any] = {"$and": [parse_expression(text) for text in filters]}
        filters = merged
    checks: list[Callable[[Queryable], bool]] = []
    for field, condition in filters.items():
        if field in ("$and", "$or", "$nor"):
            if isinstance(condition, (str, Mapping)) or not isinstance(condition, Sequence):
                raise SettingsError(f"filter {field}", f"{condition!r} is not a list of filters",
                                    f'pass e.g. {{"{field}": [{{"status": "finished"}}, {{"tags": "best"}}]}}')
            either = _combine([compile_filters(part) for part in condition], field == "$and")
            checks.append(_negate(either) if field == "$nor" else either)
            continue
        if field.startswith("$"):
            raise SettingsError(f"filter operator {field!r}", "not supported",
                                "use $and, $or or $nor at the top level")
        field = check_field(field)
        conditions = condition if isinstance(condition, Mapping) else {"$eq": condition}
        if field == "created_at":
            conditions = {op: _timestamps(target) for op, target in conditions.items()}
        checks.append(_field_check(field, _checked_operators(conditions)))
    return _combine(checks, every=True)


_OPERATORS = ("$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$nin", "$exists", "$regex")


def _checked_operators(conditions: Mapping[str, Any]) -> Mapping[str, Any]:
    """``conditions`` with ``$not`` and ``$options`` checked (``$not``'s own conditions in turn).

    Raises:
        SettingsError: an unknown operator, or ``$not``/``$options`` of the wrong form.
    """
    for op, target in conditions.items():
        if op == "$not":
            if isinstance(target, str):
                continue  # a negated regex, as MongoDB's {"$not": /text/}
            if not isinstance(target, Mapping) or not target:
                raise SettingsError("filter operator '$not'", f"{target!r} is not a dict of conditions",
                                    'write e.g. {"config.lr": {"$not": {"$lt": 0.01}}}')
            _checked_operators(target)
        elif op == "$options":
            if "$regex" not in conditions or not isinstance(target, str) or set(target) - set("imsx"):
                raise SettingsError("filter operator '$options'", f"{target!r} does not go with a $regex here",
                                    'write e.g. {"name": {"$regex": "^bert", "$options": "i"}}')
        elif op not in _OPERATORS:
            raise SettingsError(f"filter operator {op!r}", "not supported",
                                "use $eq $ne $lt $lte $gt $gte $in $nin $exists $regex $not")
    return conditions


def _negate(check: Callable[[Queryable], bool]) -> Callable[[Queryable], bool]:
    return lambda run: not check(run)


def _timestamps(target: Any) -> Any:
    """ISO-8601 text (W&B's ``createdAt``; UTC when no zone is given) as seconds since the epoch."""
    if isinstance(target, (list, tuple)):
        return [_timestamps(item) for item in target]
    if isinstance(target, Mapping):  # $not's conditions
        return {op: _timestamps(inner) for op, inner in target.items()}
    if not isinstance(target, str):
        return target
    import datetime

    try:
        moment = datetime.datetime.fromisoformat(target)
    except ValueError:
        raise SettingsError(f"created_at value {target!r}", "not an ISO-8601 date or time",
                            "e.g. '2026-01-31' or '2026-01-31T12:00:00Z'") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)).timestamp()


def _combine(checks: list[Callable[[Queryable], bool]], every: bool) -> Callable[[Queryable], bool]:
    def check(run: Queryable) -> bool:
        return (all if every else any)(part(run) for part in checks)

    return check


def _holds(value: Any, conditions: Mapping[str, Any]) -> bool:
    flags = 0
    for letter in conditions.get("$options", ""):
        flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}[letter]
    for op, target in conditions.items():
        if op == "$options":
            continue
        if op == "$not":
            inner = {"$regex": target} if isinstance(target, str) else target
            if _holds(value, inner):
                return False  # a run without the field matches $not, as in MongoDB
        elif op == "$regex" and flags:
            if not (isinstance(value, str) and re.search(str(target), value, flags) is not None):
                return False
        elif not _compare(op, value, target):
            return False
    return True


def _field_check(field: str, conditions: Mapping[str, Any]) -> Callable[[Queryable], bool]:
    def check(run: Queryable) -> bool:
        return _holds(lookup(run, field), conditions)

    return check


def sort_runs(runs: list[Any], order: str | None) -> list[Any]:
    """Sort by ``[+-]field``; runs without a value (or with NaN) come last either way.

    Raises:
        SettingsError: an unknown field.
    """
    if not order:
        return runs
    descending = order.startswith("-")
    field = check_field(order.lstrip("+-"))
    keyed = [(lookup(run, field), run) for run in runs]
    present = [(value, run) for value, run in keyed if _sortable(value)]
    present.sort(key=lambda pair: (0, pair[0], "") if isinstance(pair[0], (int, float)) else (1, 0, str(pair[0])),
                 reverse=descending)  # numbers before text when a field mixes both
    return [run for _, run in present] + [run for value, run in keyed if not _sortable(value)]


def _sortable(value: Any) -> bool:
    return value is not MISSING and value == value and not isinstance(value, (dict, list))

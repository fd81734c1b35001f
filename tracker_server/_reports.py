"""Reports on the server: new texts from blocks or a title, diffs, pins, and each panel's data.

A panel's data resolves its run set with the listing code (``query_runs``: the same filter language as
``Api().runs``) or its explicit ids, within the report's team only; a run set that matches nothing or names a
deleted run answers ``runs: []`` or fewer runs and a ``message``, never an error. Line panels carry each run's
full history of the metric (never sampled). A run set with ``group`` (``config.<key>``, ``group`` or
``job_type``) adds ``groups``: each group's runs, for line panels its mean/min/max/count series over the full
histories, for panels with a metric its summary mean/min/max (see ``tracker_core.reports._groups``). A pinned
panel answers its snapshot (groups included).
"""

from __future__ import annotations

import datetime
import difflib
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker_core._query import MISSING, lookup
from tracker_core.reports._format import Document, ReportFormatError, parse, serialize
from tracker_core.reports._groups import check_group, group_key, group_series, group_summary, grouped
from tracker_server._deps import Scope
from tracker_server._errors import ApiError
from tracker_server._listing import RUN_COLUMNS, parse_filters, query_runs
from tracker_server._models import MetricBest, Project, Run
from tracker_server._run_view import effective_state
from tracker_server._series import load_series, load_series_of_runs, tag_values

__all__ = ["FileUrl", "blocks_of", "diff", "image_refs", "new_text", "panel_data", "pinned_text"]

FileUrl = Callable[[str, str, str], str]
"""(project, run id, file path) -> the URL a payload gives for a run's file."""
_MAX_RUNS = 1000


def blocks_of(markdown: str) -> list[dict[str, Any]]:
    """The blocks of a stored text (one markdown block holding all of it when it does not parse: it was stored
    as given, and the reader still sees it)."""
    try:
        return parse(markdown).blocks
    except ReportFormatError:
        return [{"kind": "markdown", "text": markdown}]


def _bad(error: ReportFormatError) -> ApiError:
    return ApiError(400, "invalid_report", str(error), line=error.line)


def new_text(current: str, title: str | None, markdown: str | None, blocks: list[dict[str, Any]] | None,
             project: str | None = None) -> str:
    """The text to store: ``markdown`` as given (checked to parse), else ``blocks`` written after the current
    front matter; the front matter's title (and project) replaced when given.

    Raises:
        ApiError: 400 ``invalid_report`` (with ``line``) for a text or block that does not parse.
    """
    try:
        if markdown is not None:
            parse(markdown)
            return markdown
        document = parse(current) if current else Document()
        if blocks is not None:
            document.blocks = blocks
        if title is not None:
            document.front = {**document.front, "title": title}
        if project is not None and "project" not in document.front:
            document.front = {**document.front, "project": project}
        text = serialize(document)
        parse(text)  # a markdown block holding a panel fence of its own could make a text that does not read back
        return text
    except ReportFormatError as error:
        raise _bad(error) from None


def title_of(markdown: str) -> str | None:
    try:
        title = parse(markdown).front.get("title")
    except ReportFormatError:
        return None
    return title if isinstance(title, str) else None


def diff(a: str, b: str, from_revision: int, to_revision: int) -> str:
    return "".join(difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                        f"revision {from_revision}", f"revision {to_revision}"))


def pinned_text(markdown: str, indexes: list[int], snapshots: dict[int, dict[str, Any] | None]) -> str:
    """The text with the panels at ``indexes`` pinned to ``snapshots[i]`` (``None``: unpinned)."""
    document = parse(markdown)
    for index in indexes:
        spec = dict(document.blocks[index]["spec"])
        snapshot = snapshots[index]
        if snapshot is None:
            spec.pop("pinned", None)
        else:
            spec["pinned"] = {"at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "data": snapshot}
        document.blocks[index] = {"kind": "panel", "spec": spec}
    return serialize(document)


def _named(spec: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The config keys and summary keys a panel shows."""
    fields = [*spec.get("columns", []), *([spec["param"]] if "param" in spec else [])]
    config = [f[7:] for f in fields if f.startswith("config.")]
    if "param" in spec and not spec["param"].startswith(("config.", "summary.")):
        config.append(spec["param"])
    summary = [f[8:] for f in fields if f.startswith("summary.")]
    if "metric" in spec:
        summary.append(spec["metric"])
    return config, summary


def _pick(tree: dict[str, Any], keys: list[str], prefix: str) -> dict[str, Any]:
    holder = SimpleNamespace(config=tree, summary=tree)
    out = {}
    for key in keys:
        value = lookup(holder, f"{prefix}.{key}")
        if value is not MISSING:
            out[key] = value
    return out


def _project_of(spec: dict[str, Any], report_project: str, scope: Scope) -> tuple[str | None, str | None]:
    """(project name in the report's team, or None, and why not)."""
    named = (spec.get("runs") or {}).get("project") or report_project
    entity, _, name = named.rpartition("/")
    if entity and entity != scope.team:
        return None, f"project {named} is not in this report's team"
    return name, None


def _runs(session: Session, scope: Scope, project_id: int, run_set: dict[str, Any], now: float
          ) -> tuple[list[Any], str | None]:
    ids = run_set.get("ids")
    if ids is not None:
        rows = {row.run_id: row for row in session.execute(
            select(*RUN_COLUMNS).where(Run.project_id == project_id, Run.run_id.in_(list(ids))))}
        missing = [run_id for run_id in ids if run_id not in rows]
        message = (f"run {missing[0]} was deleted" if len(missing) == 1 else
                   f"runs {', '.join(missing)} were deleted") if missing else None
        return [rows[run_id] for run_id in dict.fromkeys(ids) if run_id in rows], message
    filters = run_set.get("filters") or []
    parsed = parse_filters([filters] if isinstance(filters, str) else list(filters))
    limit = run_set.get("limit")
    found, _ = query_runs(session, project_id, scope.team, parsed, run_set.get("order"),
                          min(_MAX_RUNS, limit if isinstance(limit, int) else _MAX_RUNS), 0, now)
    return found, None


def _series(run: Any, loaded: dict[str, Any], metric: str, x: str) -> dict[str, list[Any]] | None:
    """The run's whole history of ``metric`` against ``x`` (_step, _runtime, _timestamp or a metric)."""
    from tracker_server.routers.read import _x_values

    series = loaded.get(metric)
    if series is None:
        return None
    if x == "_runtime":
        xs, index = series.times - run.created_at, np.arange(len(series.times))
    else:
        xs, index = _x_values(series, x, None if x.startswith("_") else loaded.get(x))
    y = tag_values(series.values[index], series.all_int)
    for position in np.flatnonzero(~series.numeric[index]).tolist():
        y[position] = series.extra[int(index[position])]
    return {"x": xs.tolist() if xs.dtype.kind == "i" else tag_values(xs, False), "y": y}


def _images(session: Session, run: Any, project: str, key: str, file_url: FileUrl) -> list[dict[str, Any]]:
    """The images of the last step at which the run logged ``key``."""
    series = load_series(session, run.id, {key}, times=False).get(key)
    if series is None or not series.extra:
        return []
    last = max(series.extra)
    value = series.extra[last]
    media = value.get("$m") if isinstance(value, dict) else None
    items = media.get("items", []) if isinstance(media, dict) and media.get("kind") == "list" else [media]
    return [{"run_id": run.run_id, "step": int(series.steps[last]), "caption": item.get("caption"),
             "url": file_url(project, run.run_id, item["file"]), "file": item["file"]}
            for item in items if isinstance(item, dict) and item.get("kind") == "image"
            and isinstance(item.get("file"), str)]


def panel_data(session: Session, scope: Scope, report_project: str, spec: dict[str, Any], file_url: FileUrl,
               live: bool = False) -> dict[str, Any]:
    """A panel's data payload (see the reports API); its snapshot when pinned (unless ``live``)."""
    kind = spec["type"]
    pinned = spec.get("pinned")
    if pinned and not live:
        frozen = {**pinned["data"], "type": kind, "pinned": True, "pinned_at": pinned.get("at")}
        if isinstance(frozen.get("images"), list):  # links as the asker reaches them (a share link's own)
            projects = {run.get("id"): str(run.get("project", "")).rpartition("/")[2] for run in frozen["runs"]}
            frozen["images"] = [{**image, "url": file_url(projects.get(image.get("run_id"), ""), image["run_id"],
                                                          image["file"])}
                                for image in frozen["images"] if isinstance(image, dict) and "file" in image]
        return frozen
    out: dict[str, Any] = {"type": kind, "pinned": False, "runs": []}
    name, problem = _project_of(spec, report_project, scope)
    project = None if name is None else session.scalars(
        select(Project).where(Project.team_id == scope.team_id, Project.name == name)).first()
    if project is None or name is None:
        return {**out, "message": problem or f"project {scope.team}/{name} has no runs"}
    if kind == "lineage":
        return {**out, **_lineage(session, scope, project, spec["key"])}
    if kind == "sweep":
        return {**out, **_sweep(session, scope, project, spec["key"])}
    now = time.time()
    try:
        rows, message = _runs(session, scope, project.id, spec.get("runs") or {}, now)
    except ApiError as error:  # a filter or order the language does not know: the panel says so
        return {**out, "message": error.detail}
    if not rows:
        return {**out, "message": message or "no run matches this run set"}
    config_keys, summary_keys = _named(spec)
    group = (spec.get("runs") or {}).get("group")
    problem = None if group is None else check_group(group)
    if problem is None and isinstance(group, str) and group.startswith("config.") and group[7:] not in config_keys:
        config_keys.append(group[7:])
    configs = [orjson.loads(row.config) for row in rows]
    out["runs"] = [{"id": row.run_id, "name": row.name or row.run_id, "project": f"{scope.team}/{name}",
                    "state": effective_state(row, now), "group": row.group_name,
                    "config": _pick(config, config_keys, "config"),
                    "summary": _pick(orjson.loads(row.summary), summary_keys, "summary")}
                   for row, config in zip(rows, configs, strict=True)]
    if message or problem:
        out["message"] = "; ".join(m for m in (message, problem) if m)
    groups = None if group is None or problem is not None else grouped(
        [(row.run_id, group_key(group, config, row.group_name, row.job_type))
         for row, config in zip(rows, configs, strict=True)])
    if groups is not None and "metric" in spec:
        values = {run["id"]: run["summary"].get(spec["metric"]) for run in out["runs"]}
        for one in groups:
            one["summary"] = group_summary([values[run_id] for run_id in one["runs"]])
    if kind == "line":
        x = spec.get("x") or "_step"
        wanted = {spec["metric"]} if x.startswith("_") else {spec["metric"], x}
        loaded = load_series_of_runs(session, [row.id for row in rows], wanted,
                                     times=x in ("_timestamp", "_runtime"))
        out["series"] = {row.run_id: found for row in rows
                         if (found := _series(row, loaded.get(row.id, {}), spec["metric"], x)) is not None}
        for one in groups or []:
            one["series"] = group_series([out["series"][run_id] for run_id in one["runs"] if run_id in out["series"]])
    elif kind == "best":
        out["best"] = _best(session, rows, out["runs"], spec["metric"], spec.get("goal") or "min")
    elif kind == "images":
        out["images"] = [image for row in rows for image in _images(session, row, name, spec["key"], file_url)]
    if groups is not None:
        out["groups"] = groups
    return out


def _best(session: Session, rows: list[Any], shown: list[dict[str, Any]], metric: str, goal: str
          ) -> dict[str, Any] | None:
    value = MetricBest.min_value if goal == "min" else MetricBest.max_value
    step = MetricBest.min_step if goal == "min" else MetricBest.max_step
    by_pk = {row.id: index for index, row in enumerate(rows)}
    found = session.execute(select(MetricBest.run_pk, value, step).where(
        MetricBest.run_pk.in_(list(by_pk)), MetricBest.key == metric)).all()
    if not found:
        return None
    pick = min if goal == "min" else max
    run_pk, best_value, best_step = pick(found, key=lambda r: (r[1], -by_pk[r[0]]) if goal == "max"
                                         else (r[1], by_pk[r[0]]))
    return {**shown[by_pk[run_pk]], "value": best_value, "step": best_step}


def _lineage(session: Session, scope: Scope, project: Project, key: str) -> dict[str, Any]:
    from tracker_server._artifacts import find_collection, lineage, resolve

    name, _, selector = key.partition(":")
    try:
        collection = find_collection(session, project, scope, name)
        version = resolve(session, collection, selector or "latest")
    except ApiError as error:
        return {"message": error.detail}
    return {"lineage": lineage(session, version, scope.team, 4)}


def _sweep(session: Session, scope: Scope, project: Project, sweep_id: str) -> dict[str, Any]:
    from tracker_server._models import Sweep, SweepTrial
    from tracker_server._sweeps import sweep_json, trial_json

    sweep = session.scalars(select(Sweep).where(Sweep.project_id == project.id, Sweep.sweep_id == sweep_id)).first()
    if sweep is None:
        return {"message": f"no sweep {sweep_id} in {scope.team}/{project.name}"}
    trials = session.scalars(select(SweepTrial).where(SweepTrial.sweep_pk == sweep.id).order_by(SweepTrial.number))
    return {"sweep": {**sweep_json(session, sweep, scope.team, project.name),
                      "trials": [trial_json(trial) for trial in trials]}}


def image_refs(session: Session, scope: Scope, report_project: str, blocks: list[dict[str, Any]]
               ) -> set[tuple[str, str, str]]:
    """(project, run id, file) of every image the report's image panels show (live or pinned)."""
    refs: set[tuple[str, str, str]] = set()
    for block in blocks:
        spec = block.get("spec") or {}
        if block.get("kind") != "panel" or spec.get("type") != "images":
            continue
        data = panel_data(session, scope, report_project, spec, lambda p, r, f: "")
        for image in data.get("images", []):
            project = next((run["project"] for run in data["runs"] if run["id"] == image["run_id"]), None)
            if project is not None:
                refs.add((project.rpartition("/")[2], image["run_id"], image["file"]))
    return refs

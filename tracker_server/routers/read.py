"""The read API: who am I, projects, runs (filtered, sorted, paged), one run, its history, its raw
records, the best run on a metric, and edits of a run's name, notes, tags, group and job type."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from tracker_server._deps import (
    Scope,
    ServerState,
    find_project,
    find_run,
    identity,
    json_response,
    reader,
    server,
    writer,
)
from tracker_server._identity import Identity
from tracker_server._ingest import load_fold, refresh_meta
from tracker_server._listing import best_run, parse_filters, query_runs
from tracker_server._models import Project, Run, SeriesChunk
from tracker_server._raw_records import records_after
from tracker_server._run_view import run_json
from tracker_server._series import Series, bucketize, bucketize_blocks, load_blocks, load_series, tag_values
from tracker_server._sweeps import find_sweep

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["read"])

Filters = Annotated[list[str], Query(description="filter expressions (config.lr<1e-3, summary.val/acc>=0.9, "
                                                 "status=finished, tags=x, name~^bert) or MongoDB-style JSON objects; "
                                                 "all must hold")]
SweepScope = Annotated[str | None, Query(description="a sweep id of the project: only its trials' runs (404 when the "
                                                     "project has no such sweep)")]


class TeamRole(BaseModel):
    name: str
    role: Literal["viewer", "member", "admin"]


class WhoAmI(BaseModel):
    user: str
    key_name: str
    teams: list[TeamRole]


class ProjectInfo(BaseModel):
    name: str
    runs: int
    last_activity: float


class Projects(BaseModel):
    projects: list[ProjectInfo]


class RunOut(BaseModel):
    """A run. ``config``, ``summary`` and ``meta`` values are encoded like the log (NaN as ``{"$f": "nan"}``)."""

    id: str
    entity: str
    project: str
    name: str
    state: Literal["running", "finished", "failed", "killed", "stopped", "crashed"] | str
    exit_code: int | None
    signal: str | None
    traceback: str | None
    preempted: bool
    tags: list[str]
    group: str | None
    job_type: str | None
    notes: str | None
    host: str | None
    created_at: float
    updated_at: float
    heartbeat_at: float | None
    ended_at: float | None
    last_seq: int
    config: dict[str, Any]
    summary: dict[str, Any]
    meta: dict[str, Any]


class RunList(BaseModel):
    runs: list[RunOut]
    total: int


class Best(BaseModel):
    run: RunOut | None
    value: float | None
    step: int | None = Field(None, description="the step it was reached at (None when only in the summary)")


class Records(BaseModel):
    records: list[dict[str, Any]]
    acked_seq: int


class History(BaseModel):
    """``series[key]`` is ``{"x": [...], "y": [...]}`` in full, or with ``buckets``: ``{"x0", "x1", "first",
    "last", "min", "max", "count"}`` lists, one entry per non-empty bucket."""

    x: str
    bucketed: bool = False
    series: dict[str, dict[str, list[Any]]]


class RunEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    notes: str | None = None
    tags: list[str] | None = None
    group: str | None = None
    job_type: str | None = None


@router.get("/whoami", response_model=WhoAmI, summary="The caller's user, key and teams")
def whoami(caller: Annotated[Identity, Depends(identity)]) -> Response:
    return json_response({"user": caller.user, "key_name": caller.credential,
                          "teams": [{"name": name, "role": role} for name, (_, role) in sorted(caller.teams.items())]})


@router.get("/projects/{entity}", response_model=Projects, summary="The team's projects")
def projects(entity: str, scope: Annotated[Scope, Depends(reader)],
             state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.db.read() as session:
        rows = session.execute(select(Project.name, func.count(Run.id), Project.last_activity)
                               .outerjoin(Run, Run.project_id == Project.id).where(Project.team_id == scope.team_id)
                               .group_by(Project.id).order_by(Project.name)).all()
    return json_response({"projects": [{"name": n, "runs": c, "last_activity": t} for n, c, t in rows]})


@router.get("/runs/{entity}/{project}", response_model=RunList, summary="Runs, filtered, sorted and paged")
def list_runs(entity: str, project: str, scope: Annotated[Scope, Depends(reader)],
              state: Annotated[ServerState, Depends(server)], filters: Filters = [],  # noqa: B006
              order: Annotated[str | None, Query(description="[+-]field, e.g. -summary.val/acc")] = None,
              limit: Annotated[int, Query(ge=0, le=100_000)] = 1000,
              offset: Annotated[int, Query(ge=0)] = 0, sweep: SweepScope = None) -> Response:
    parsed = parse_filters(filters)
    now = time.time()
    with state.db.read() as session:
        found = find_project(session, scope, project)
        sweep_pk = find_sweep(session, scope, project, sweep).id if sweep else None
        runs, total = query_runs(session, found.id, scope.team, parsed, order, limit, offset, now, sweep_pk)
        return json_response({"runs": [run_json(run, scope.team, project, now) for run in runs], "total": total})


@router.get("/runs/{entity}/{project}/{run_id}", response_model=RunOut, summary="One run")
def get_run(entity: str, project: str, run_id: str, scope: Annotated[Scope, Depends(reader)],
            state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.db.read() as session:
        return json_response(run_json(find_run(session, scope, project, run_id), scope.team, project))


@router.patch("/runs/{entity}/{project}/{run_id}", response_model=RunOut, summary="Edit a run's name, notes, tags, "
              "group or job type")
def edit_run(entity: str, project: str, run_id: str, body: RunEdit, scope: Annotated[Scope, Depends(writer)],
             state: Annotated[ServerState, Depends(server)]) -> Response:
    changes = body.model_dump(exclude_unset=True)
    with state.db.write() as session:
        run = find_run(session, scope, project, run_id, for_update=True)
        if changes:
            run.edits = orjson.dumps({**orjson.loads(run.edits), **changes}).decode()
            refresh_meta(run, load_fold(session, run))
        return json_response(run_json(run, scope.team, project))


def _x_values(series: Series, x: str, axis: Series | None) -> tuple[np.ndarray, np.ndarray]:
    """(x of each point, index of the point) for the points that have a real-number x, sorted by x."""
    if x == "_step":
        return series.steps, np.arange(len(series.steps))
    if x == "_timestamp":
        xs, index = series.times, np.arange(len(series.times))
    else:
        if axis is None:
            return np.empty(0), np.empty(0, np.int64)
        at = np.searchsorted(axis.steps, series.steps)
        inside = at < len(axis.steps)
        at = np.where(inside, at, 0)
        valid = inside & (axis.steps[at] == series.steps) & axis.numeric[at] & np.isfinite(axis.values[at])
        index = np.flatnonzero(valid)
        xs = axis.values[at[index]]
    order = np.argsort(xs, kind="stable")
    return xs[order], index[order]


@router.get("/runs/{entity}/{project}/{run_id}/history", response_model=History,
            summary="History, in full (never sampled) or in min/max buckets")
def history(entity: str, project: str, run_id: str, scope: Annotated[Scope, Depends(reader)],
            state: Annotated[ServerState, Depends(server)],
            keys: Annotated[list[str], Query(description="metric keys (default: all)")] = [],  # noqa: B006
            x: Annotated[str, Query(description="_step, _timestamp or a metric key")] = "_step",
            min_x: float | None = None, max_x: float | None = None,
            buckets: Annotated[int | None, Query(ge=1, le=100_000)] = None) -> Response:
    with state.db.read() as session:
        run = find_run(session, scope, project, run_id)
        if not keys:
            keys = list(session.scalars(select(SeriesChunk.key).where(SeriesChunk.run_pk == run.id).distinct()))
        by_step = x == "_step"
        out: dict[str, dict[str, list[Any]]] = {}
        if buckets is not None and by_step and min_x is None and max_x is None:  # a whole history's chart
            for key, (blocks, as_int) in load_blocks(session, run.id, keys).items():
                coarse = bucketize_blocks(blocks, buckets, as_int)
                if coarse is not None:
                    out[key] = coarse
        wanted = {key for key in keys if key not in out} if x.startswith("_") else {*keys, x}
        loaded = load_series(session, run.id, wanted,
                             int(np.floor(min_x)) if by_step and min_x is not None else None,
                             int(np.ceil(max_x)) if by_step and max_x is not None else None,
                             times=x == "_timestamp")
    axis = None if x.startswith("_") else loaded.get(x)
    for key in keys:
        series = loaded.get(key)
        if series is None or key in out:
            continue
        xs, index = _x_values(series, x, axis)
        keep = np.ones(len(xs), bool)
        if min_x is not None:
            keep &= xs >= min_x
        if max_x is not None:
            keep &= xs <= max_x
        xs, index = xs[keep], index[keep]
        if buckets is None:
            y = tag_values(series.values[index], series.all_int)
            for position in np.flatnonzero(~series.numeric[index]).tolist():
                y[position] = series.extra[int(index[position])]
            out[key] = {"x": xs.tolist() if xs.dtype.kind == "i" else tag_values(xs, False), "y": y}
        else:
            numeric = series.numeric[index]
            out[key] = bucketize(xs[numeric], series.values[index[numeric]], buckets, series.all_int)
    body: dict[str, Any] = {"x": x, "series": out}
    if buckets is not None:
        body["bucketed"] = True
    return json_response(body)


@router.get("/runs/{entity}/{project}/{run_id}/records", response_model=Records, summary="Raw records, in seq order")
def records(entity: str, project: str, run_id: str, scope: Annotated[Scope, Depends(reader)],
            state: Annotated[ServerState, Depends(server)], after_seq: Annotated[int, Query(ge=0)] = 0,
            limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
            types: Annotated[list[str], Query(description="only records of these types (e.g. provenance, alert), "
                                                          "wherever they are in the run; default: all")] = [],  # noqa: B006
            ) -> Response:
    """``types`` finds a run's few records of a kind (its provenance, its alerts) however many log records
    come before them; paging by ``after_seq`` works the same with it."""
    with state.db.read() as session:
        run = find_run(session, scope, project, run_id)
        bodies = [line for _, line in records_after(session, run.id, after_seq, limit=limit, types=types)]
        acked = run.last_seq
    payload = b'{"records":[' + b",".join(bodies) + b'],"acked_seq":' + str(acked).encode() + b"}"
    return Response(payload, media_type="application/json")


@router.get("/best/{entity}/{project}", response_model=Best, summary="The best run on a metric")
def best(entity: str, project: str, metric: str, scope: Annotated[Scope, Depends(reader)],
         state: Annotated[ServerState, Depends(server)], goal: Literal["min", "max"] = "min",
         filters: Filters = [], sweep: SweepScope = None) -> Response:  # noqa: B006
    """Each run's best value of ``metric`` over its history (else its numeric summary); ties go to the earliest."""
    parsed = parse_filters(filters)
    now = time.time()
    with state.db.read() as session:
        found = find_project(session, scope, project)
        sweep_pk = find_sweep(session, scope, project, sweep).id if sweep else None
        result = best_run(session, found.id, scope.team, metric, goal, parsed, now, sweep_pk)
        if result is None:
            return json_response({"run": None, "value": None, "step": None})
        run, value, step = result
        return json_response({"run": run_json(run, scope.team, project, now), "value": value, "step": step})



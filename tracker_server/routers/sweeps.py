"""Sweeps: create one from a W&B sweep config, read its state and counts, claim a trial (one transaction:
never the same grid point twice, ``run_cap`` across every agent), end a trial, pause/resume/stop/cancel,
and list a project's sweeps and a sweep's trials."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from tracker_server._deps import Scope, ServerState, check_names, find_project, json_response, reader, server, writer
from tracker_server._models import Sweep, SweepTrial
from tracker_server._sweep_importance import importance
from tracker_server._sweeps import (
    claim,
    create_sweep,
    end_trial,
    find_sweep,
    heartbeat,
    optuna_url,
    report,
    set_state,
    sweep_config,
    sweep_json,
    trial_json,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/sweeps", tags=["sweeps"])

class SweepPost(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: dict[str, Any] = Field(description="a W&B sweep config")
    seed: int | None = Field(None, ge=0, le=(1 << 31) - 1, description="makes the search reproducible")


class ClaimPost(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: dict[str, Any] = Field(default_factory=dict, description="who runs the trial (host, pid)")
    retry_crashed: bool = Field(False, description="grid: hand out again a point whose trial crashed")
    token: str | None = Field(None, min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                              description="the agent's id for this claim: sent again on a retry, the same trial")


class TrialEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["finished", "failed", "killed", "stopped", "crashed"]
    value: float | None = Field(None, description="the sweep metric's final value")


class StatePut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["running", "paused", "finished", "cancelled"] = Field(
        description="running (resume), paused, finished (stop: no new trials), cancelled (and stop running ones)")


class TrialOut(BaseModel):
    number: int
    run_id: str
    params: dict[str, Any]
    grid_index: int | None
    optuna_trial_id: int | None
    state: str
    agent: dict[str, Any]
    value: float | None
    created_at: float
    seen_at: float | None
    ended_at: float | None


class SweepOut(BaseModel):
    id: str
    entity: str
    project: str
    name: str | None
    method: str
    state: str
    seed: int
    config: dict[str, Any]
    created_at: float
    counts: dict[str, int]


class Sweeps(BaseModel):
    sweeps: list[SweepOut]


class Trials(BaseModel):
    trials: list[TrialOut]


class ReportPost(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: float = Field(allow_inf_nan=False, description="the sweep metric's value")
    iteration: int = Field(ge=1, le=(1 << 31) - 1, description="how many times the trial has logged the metric")


class ReportOut(BaseModel):
    stop: bool = Field(description="Hyperband stops the trial: ask its run to stop")


class HeartbeatOut(BaseModel):
    state: str = Field(description="the sweep's state (cancelled: stop the trial)")
    trial: str = Field(description="the trial's state (crashed: the server gave up on it)")


class ImportanceOut(BaseModel):
    importances: dict[str, float] | None = Field(description="each searched parameter's share (sums to 1), most "
                                                 "important first; null when it cannot be said (see reason)")
    trials: int = Field(description="the finished trials with a value of the metric that were used")
    evaluator: str | None = Field(None, description="fanova, or mean_decrease_impurity for many trials")
    reason: str | None = None


class ClaimOut(BaseModel):
    trial: TrialOut | None
    reason: str | None = None


@router.post("/{entity}/{project}", response_model=SweepOut, status_code=201, summary="Create a sweep",
             responses={422: {"description": "the config is not W&B's format (key path and hint)"}})
def post_sweep(entity: str, project: str, body: SweepPost, scope: Annotated[Scope, Depends(writer)],
               state: Annotated[ServerState, Depends(server)]) -> Response:
    check_names(project)
    with state.db.write() as session:
        sweep = create_sweep(session, scope, project, body.config, body.seed, optuna_url(state.db))
        return json_response(sweep_json(session, sweep, scope.team, project), 201)


@router.get("/{entity}/{project}", response_model=Sweeps, summary="A project's sweeps, oldest first")
def list_sweeps(entity: str, project: str, scope: Annotated[Scope, Depends(reader)],
                state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.db.read() as session:
        found = find_project(session, scope, project)
        rows = session.scalars(select(Sweep).where(Sweep.project_id == found.id).order_by(Sweep.created_at)).all()
        return json_response({"sweeps": [sweep_json(session, row, scope.team, project) for row in rows]})


@router.get("/{entity}/{project}/{sweep_id}", response_model=SweepOut, summary="A sweep: config, state, counts")
def get_sweep(entity: str, project: str, sweep_id: str, scope: Annotated[Scope, Depends(reader)],
              state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.db.read() as session:
        return json_response(sweep_json(session, find_sweep(session, scope, project, sweep_id), scope.team, project))


@router.get("/{entity}/{project}/{sweep_id}/trials", response_model=Trials, summary="A sweep's trials, by number")
def list_trials(entity: str, project: str, sweep_id: str, scope: Annotated[Scope, Depends(reader)],
                state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.db.read() as session:
        sweep = find_sweep(session, scope, project, sweep_id)
        rows = session.scalars(select(SweepTrial).where(SweepTrial.sweep_pk == sweep.id)
                               .order_by(SweepTrial.number)).all()
        return json_response({"trials": [trial_json(row) for row in rows]})


@router.get("/{entity}/{project}/{sweep_id}/importance", response_model=ImportanceOut,
            summary="Parameter importance for the sweep metric (Optuna's fANOVA over the finished trials)")
def get_importance(entity: str, project: str, sweep_id: str, scope: Annotated[Scope, Depends(reader)],
                   state: Annotated[ServerState, Depends(server)]) -> Response:
    """Too few finished trials (or no metric, nothing searched) answer ``importances: null`` with a ``reason``."""
    with state.db.read() as session:
        sweep = find_sweep(session, scope, project, sweep_id)
        rows = session.execute(select(SweepTrial.params, SweepTrial.value).where(
            SweepTrial.sweep_pk == sweep.id, SweepTrial.state == "finished", SweepTrial.value.is_not(None))
            .order_by(SweepTrial.number)).all()
        config, pk = sweep_config(sweep), sweep.id
    finished = [(json.loads(params), float(value)) for params, value in rows
                if value is not None and math.isfinite(value)]
    return json_response(importance((state.config.data, pk), config, finished))


@router.post("/{entity}/{project}/{sweep_id}/claim", response_model=ClaimOut,
             summary="Claim the next trial (its parameters and run id), or learn why there is none")
def post_claim(entity: str, project: str, sweep_id: str, body: ClaimPost, scope: Annotated[Scope, Depends(writer)],
               state: Annotated[ServerState, Depends(server)]) -> Response:
    """``reason`` is ``paused`` (ask again later), or why the sweep has no more trials."""
    with state.db.write() as session:
        sweep = find_sweep(session, scope, project, sweep_id, for_update=True)
        return json_response(claim(session, sweep, body.agent, body.retry_crashed, body.token,
                                   optuna_url(state.db)))


@router.post("/{entity}/{project}/{sweep_id}/trials/{number}/end", response_model=TrialOut,
             summary="Record how a trial's run ended (the first end counts)")
def post_trial_end(entity: str, project: str, sweep_id: str, number: int, body: TrialEnd,
                   scope: Annotated[Scope, Depends(writer)],
                   state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.db.write() as session:
        sweep = find_sweep(session, scope, project, sweep_id, for_update=True)
        ended = end_trial(session, sweep, number, body.state, body.value, optuna_url(state.db))
        return json_response(trial_json(ended))


@router.post("/{entity}/{project}/{sweep_id}/trials/{number}/heartbeat", response_model=HeartbeatOut,
             summary="The agent still runs the trial (a trial silent as long as a run must be to read crashed "
                     "ends crashed)")
def post_heartbeat(entity: str, project: str, sweep_id: str, number: int, scope: Annotated[Scope, Depends(writer)],
                   state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.db.write() as session:
        return json_response(heartbeat(session, find_sweep(session, scope, project, sweep_id), number))


@router.post("/{entity}/{project}/{sweep_id}/trials/{number}/report", response_model=ReportOut,
             summary="The trial logged the sweep metric again; whether Hyperband stops it")
def post_report(entity: str, project: str, sweep_id: str, number: int, body: ReportPost,
                scope: Annotated[Scope, Depends(writer)], state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.db.write() as session:
        sweep = find_sweep(session, scope, project, sweep_id)
        return json_response({"stop": report(session, sweep, number, body.value, body.iteration,
                                             optuna_url(state.db))})


@router.put("/{entity}/{project}/{sweep_id}/state", response_model=SweepOut,
            summary="Pause, resume, stop or cancel a sweep", responses={409: {"description": "the sweep has ended"}})
def put_state(entity: str, project: str, sweep_id: str, body: StatePut, scope: Annotated[Scope, Depends(writer)],
              state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.db.write() as session:
        sweep = find_sweep(session, scope, project, sweep_id, for_update=True)
        set_state(sweep, body.state)
        return json_response(sweep_json(session, sweep, scope.team, project))

"""Sweeps on the team server: a W&B sweep config checked by the core's own parser, and trials handed out
by one transaction each, so agents on any number of machines never get the same grid point twice and
``run_cap`` counts every agent's trials.

A claim locks the sweep's row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's writer transaction is
``BEGIN IMMEDIATE``, one at a time), counts the trials, picks the next grid point or random draw and
inserts the trial; a unique index on (sweep, grid point) over trials that did not crash backs it up.
``grid`` and ``random`` are W&B's (the core's ``_params``: a random draw is seeded by the sweep's seed and
the trial's number, so a sweep is reproducible whatever the number of agents). ``bayes`` and hyperband
``early_terminate`` need Optuna's state beside the trials and are refused here (they work without a server).
"""

from __future__ import annotations

import json
import random
import secrets
import time
import warnings
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker_server._deps import Scope, find_project
from tracker_server._errors import ApiError, not_found
from tracker_server._models import Project, Sweep, SweepTrial

__all__ = ["AGENT_HEARTBEAT", "SWEEP_STATES", "TRIAL_ENDS", "claim", "create_sweep", "end_trial", "find_sweep",
           "heartbeat", "parse_config", "reap", "set_state", "sweep_json", "trial_json"]

SWEEP_STATES = ("running", "paused", "finished", "cancelled")
TRIAL_ENDS = ("finished", "failed", "killed", "stopped", "crashed")


def parse_config(raw: dict[str, Any]) -> Any:
    """The core's ``SweepConfig``; raises ApiError 422 with the key path and hint of a config error."""
    from tracker_core.sweeps._config import SweepConfig
    from tracker_core.sweeps._errors import SweepConfigError

    try:
        with warnings.catch_warnings():  # deprecations are the client's to show
            warnings.simplefilter("ignore")
            config = SweepConfig.parse(raw)
    except SweepConfigError as error:
        raise ApiError(422, "invalid_sweep_config", str(error)) from None
    if config.method == "bayes":
        raise ApiError(422, "unsupported_on_server", "method: bayes is not yet run by the team server",
                       hint="use method grid or random, or run the sweep without a server (TRACKER_MODE=offline)")
    if config.hyperband is not None:
        raise ApiError(422, "unsupported_on_server", "early_terminate: hyperband is not yet run by the team server",
                       hint="remove early_terminate, or run the sweep without a server (TRACKER_MODE=offline)")
    return config


def create_sweep(session: Session, scope: Scope, project: str, raw: dict[str, Any], seed: int | None) -> Sweep:
    config = parse_config(raw)
    now = time.time()
    found = session.scalars(select(Project).where(Project.team_id == scope.team_id, Project.name == project)).first()
    if found is None:
        found = Project(team_id=scope.team_id, name=project, created_at=now, last_activity=now)
        session.add(found)
        session.flush()
    from tracker_core.sweeps._store import new_sweep_id

    sweep = Sweep(project_id=found.id, sweep_id=new_sweep_id(), name=config.name, method=config.method,
                  config=json.dumps(raw), state="running", seed=secrets.randbits(31) if seed is None else seed,
                  created_at=now)
    session.add(sweep)
    session.flush()
    return sweep


def find_sweep(session: Session, scope: Scope, project: str, sweep_id: str, for_update: bool = False) -> Sweep:
    """Raises ApiError 404 for a sweep that is not in the team's project (another team's too)."""
    found = find_project(session, scope, project)
    query = select(Sweep).where(Sweep.project_id == found.id, Sweep.sweep_id == sweep_id)
    if for_update:
        query = query.with_for_update()
    sweep = session.scalars(query).first()
    if sweep is None:
        raise not_found(f"sweep {scope.team}/{project}/{sweep_id}")
    return sweep


def counts(session: Session, sweep: Sweep) -> dict[str, int]:
    rows = session.execute(select(SweepTrial.state, func.count()).where(SweepTrial.sweep_pk == sweep.id)
                           .group_by(SweepTrial.state)).all()
    return {str(state): int(n) for state, n in rows}


def sweep_json(session: Session, sweep: Sweep, team: str, project: str) -> dict[str, Any]:
    return {"id": sweep.sweep_id, "entity": team, "project": project, "name": sweep.name, "method": sweep.method,
            "state": sweep.state, "seed": sweep.seed, "config": json.loads(sweep.config),
            "created_at": sweep.created_at, "counts": counts(session, sweep)}


def trial_json(trial: SweepTrial) -> dict[str, Any]:
    return {"number": trial.number, "run_id": trial.run_id, "params": json.loads(trial.params),
            "grid_index": trial.grid_index, "state": trial.state, "agent": json.loads(trial.agent),
            "value": trial.value, "created_at": trial.created_at, "seen_at": trial.seen_at, "ended_at": trial.ended_at}


def claim(session: Session, sweep: Sweep, agent: dict[str, Any], retry_crashed: bool,
          token: str | None = None) -> dict[str, Any]:
    """The next trial (``{"trial": {...}}``) or why there is none (``{"trial": None, "reason": ...}``);
    ``sweep`` must be locked for the transaction (``find_sweep(for_update=True)``). A ``token`` already used
    for a trial of the sweep gets that trial again: an agent retrying a claim whose answer was lost (the
    server died after its commit) does not leave a trial that nobody runs."""
    if token is not None:
        again = session.scalars(select(SweepTrial).where(SweepTrial.sweep_pk == sweep.id,
                                                         SweepTrial.claim == token)).first()
        if again is not None:
            return {"trial": trial_json(again)}
    reap(session, sweep)
    if sweep.state != "running":
        return {"trial": None, "reason": sweep.state}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = parse_config(json.loads(sweep.config))
    count, last = session.execute(select(func.count(), func.max(SweepTrial.number))
                                  .where(SweepTrial.sweep_pk == sweep.id)).one()
    if config.run_cap is not None and count >= config.run_cap:
        sweep.state = "finished"
        return {"trial": None, "reason": f"run_cap {config.run_cap} reached"}
    number = 0 if last is None else int(last) + 1
    grid_index: int | None = None
    if config.method == "grid":
        taken_query = select(SweepTrial.grid_index).where(SweepTrial.sweep_pk == sweep.id)
        if retry_crashed:
            taken_query = taken_query.where(SweepTrial.state != "crashed")
        taken = set(session.scalars(taken_query))
        grid_index = next((i for i in range(config.grid_size()) if i not in taken), None)
        if grid_index is None:
            sweep.state = "finished"
            return {"trial": None, "reason": "every grid point was handed out"}
        params = config.grid_point(grid_index)
    else:
        from tracker_core.sweeps._config import nest

        rng = random.Random(f"{sweep.seed}:{number}")  # noqa: S311 - a search, not a secret
        params = nest({p.path: p.sample(rng) for p in config.params})
    from tracker_core.store._run_dir import new_run_id

    trial = SweepTrial(sweep_pk=sweep.id, number=number, run_id=new_run_id(), params=json.dumps(params),
                       grid_index=grid_index, state="running", agent=json.dumps(agent), claim=token,
                       created_at=time.time())
    session.add(trial)
    session.flush()
    return {"trial": trial_json(trial)}


AGENT_HEARTBEAT = 1.0
"""Seconds between an agent's heartbeats for its running trial (its watcher's look at the sweep's state)."""


def reap(session: Session, sweep: Sweep) -> None:
    """Trials whose agent fell silent (killed, its machine gone) as long as a run must to read ``crashed``
    (``stale_after``: 3 heartbeats + ``TRACKER_SERVER_STALE_SLACK``) end ``crashed``; the sweep goes on."""
    from tracker_server._run_view import stale_after

    now = time.time()
    silent = now - stale_after(AGENT_HEARTBEAT)
    for trial in session.scalars(select(SweepTrial).where(SweepTrial.sweep_pk == sweep.id,
                                                          SweepTrial.state == "running")):
        if (trial.seen_at or trial.created_at) < silent:
            trial.state, trial.ended_at = "crashed", now
    session.flush()


def heartbeat(session: Session, sweep: Sweep, number: int) -> dict[str, str]:
    """The agent is alive and runs the trial; answers the sweep's and the trial's state (``cancelled``: stop it)."""
    trial = session.get(SweepTrial, (sweep.id, number))
    if trial is None:
        raise not_found(f"trial {number} of sweep {sweep.sweep_id}")
    if trial.state == "running":
        trial.seen_at = time.time()
    return {"state": sweep.state, "trial": trial.state}


def end_trial(session: Session, sweep: Sweep, number: int, state: str, value: float | None) -> SweepTrial:
    """Record how a trial's run ended; a ``metric.target`` reached finishes the sweep. A trial already ended
    keeps its first end (an agent's retry after a lost answer changes nothing)."""
    trial = session.get(SweepTrial, (sweep.id, number), with_for_update=True)
    if trial is None:
        raise not_found(f"trial {number} of sweep {sweep.sweep_id}")
    if trial.state != "running":
        return trial
    trial.state, trial.value, trial.ended_at = state, value, time.time()
    metric = json.loads(sweep.config).get("metric")
    target = metric.get("target") if isinstance(metric, dict) else None
    if state == "finished" and value is not None and isinstance(target, int | float) and sweep.state == "running":
        goal = metric.get("goal", "minimize")
        if (value <= target) if goal == "minimize" else (value >= target):
            sweep.state = "finished"
    return trial


def set_state(sweep: Sweep, state: str) -> None:
    """pause (``paused``), resume (``running``), stop (``finished``) or cancel (``cancelled``); a finished or
    cancelled sweep stays so. Raises ApiError 409."""
    if sweep.state in ("finished", "cancelled") and state != sweep.state:
        raise ApiError(409, "sweep_ended", f"sweep {sweep.sweep_id} is {sweep.state}; it cannot become {state}")
    sweep.state = state

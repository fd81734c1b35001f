"""Sweeps on the team server: a W&B sweep config checked by the core's own parser, and trials handed out
by one transaction each, so agents on any number of machines never get the same grid point twice and
``run_cap`` counts every agent's trials.

A claim locks the sweep's row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's writer transaction is
``BEGIN IMMEDIATE``, one at a time), counts the trials, picks the next grid point or random draw and
inserts the trial; a unique index on (sweep, grid point) over trials that did not crash backs it up.
``grid`` and ``random`` are W&B's (the core's ``_params``: a random draw is seeded by the sweep's seed and
the trial's number, so a sweep is reproducible whatever the number of agents). ``bayes`` is the core's
proposal (Optuna's TPE, never a configuration already run or running: a unique index on the hash of the
parameters), asked under the same lock, with Optuna's RDB storage in the server's PostgreSQL database (its
own schema, ``optuna``), or on SQLite in ``optuna.db`` beside the server's file; Optuna is imported only by
a bayes sweep's routes.
Hyperband ``early_terminate`` is Optuna's ``HyperbandPruner`` on the same storage, fed by the agents through
the report route (an iteration is one logged value of the sweep metric, as locally).
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import time
import warnings
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker_server._database import Database
from tracker_server._deps import Scope, find_project
from tracker_server._errors import ApiError, not_found
from tracker_server._models import Project, Sweep, SweepTrial

__all__ = ["AGENT_HEARTBEAT", "SWEEP_STATES", "TRIAL_ENDS", "claim", "create_sweep", "end_trial", "find_sweep",
           "heartbeat", "optuna_url", "parse_config", "reap", "report", "set_state", "sweep_config", "sweep_json",
           "trial_json"]

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
    if _uses_optuna(config):
        try:
            import optuna  # noqa: F401
        except ImportError:
            raise ApiError(422, "unsupported_on_server", "bayes and hyperband need Optuna on the team server",
                           hint='pip install "tracker[sweeps]" where the server runs') from None
    return config


def _uses_optuna(config: Any) -> bool:
    return bool(config.method == "bayes" or config.hyperband is not None)


_STORAGES: dict[str, Any] = {}
_OPTUNA_SCHEMA = "optuna"


def optuna_url(db: Database) -> str:
    """Optuna's RDB storage: the server's own PostgreSQL database (schema ``optuna``), or ``optuna.db`` beside
    its SQLite file."""
    if not db.is_sqlite:
        return db.url
    import os

    return "sqlite:///" + os.path.join(os.path.dirname(db.url.split("///", 1)[1]), "optuna.db")


def _storage(url: str) -> Any:
    """One Optuna storage per URL in this process (SQLite in WAL mode, as the local store's)."""
    storage = _STORAGES.get(url)
    if storage is None:
        if url.startswith("sqlite"):
            from tracker_core.sweeps._controller import _storage as sqlite_storage

            storage = sqlite_storage(url)
        else:  # its own schema: Optuna's tables (and its own Alembic version) apart from the server's
            import optuna
            from sqlalchemy import create_engine, text

            engine = create_engine(url)
            try:
                with engine.begin() as connection:
                    connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {_OPTUNA_SCHEMA}"))
            finally:
                engine.dispose()
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            storage = optuna.storages.RDBStorage(url, engine_kwargs={
                "pool_pre_ping": True, "connect_args": {"options": f"-csearch_path={_OPTUNA_SCHEMA}"}})
        _STORAGES[url] = storage
    return storage


def _study(url: str, sweep: Sweep, config: Any) -> Any:
    import optuna

    pruner: optuna.pruners.BasePruner = optuna.pruners.NopPruner()
    band = config.hyperband
    if band is not None:  # as the local controller's
        pruner = optuna.pruners.HyperbandPruner(min_resource=band.min_resource, max_resource=band.max_iter or "auto",
                                                reduction_factor=band.eta)
    return optuna.load_study(study_name=f"sweep-{sweep.id}", storage=_storage(url),
                             sampler=optuna.samplers.RandomSampler(), pruner=pruner)


_CONFIGS: dict[str, Any] = {}  # a sweep's config text -> its parsed SweepConfig (a config never changes)
_CONFIGS_MOST = 256


def sweep_config(sweep: Sweep) -> Any:
    """The sweep's parsed ``SweepConfig`` (deprecation warnings were shown when it was created), parsed once
    per config text in this process: every claim, end and report needs it."""
    found = _CONFIGS.get(sweep.config)
    if found is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = parse_config(json.loads(sweep.config))
        if len(_CONFIGS) >= _CONFIGS_MOST:
            _CONFIGS.clear()
        _CONFIGS[sweep.config] = found
    return found



def create_sweep(session: Session, scope: Scope, project: str, raw: dict[str, Any], seed: int | None,
                 storage_url: str) -> Sweep:
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
    if _uses_optuna(config):
        import optuna

        maximize = config.metric is not None and config.metric.goal == "maximize"
        optuna.create_study(study_name=f"sweep-{sweep.id}", storage=_storage(storage_url),
                            direction="maximize" if maximize else "minimize")
    return sweep


def find_sweep(session: Session, scope: Scope, project: str, sweep_id: str, for_update: bool = False) -> Sweep:
    """Raises ApiError 404 for a sweep that is not in the team's project (another team's too). One query."""
    query = (select(Sweep).join(Project, Project.id == Sweep.project_id)
             .where(Project.team_id == scope.team_id, Project.name == project, Sweep.sweep_id == sweep_id))
    if for_update:
        query = query.with_for_update(of=Sweep)
    sweep = session.scalars(query).first()
    if sweep is None:
        find_project(session, scope, project)  # 404 for the project when it is the project that is missing
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
            "grid_index": trial.grid_index, "optuna_trial_id": trial.optuna_trial_id, "state": trial.state,
            "agent": json.loads(trial.agent),
            "value": trial.value, "created_at": trial.created_at, "seen_at": trial.seen_at, "ended_at": trial.ended_at}


def claim(session: Session, sweep: Sweep, agent: dict[str, Any], retry_crashed: bool, token: str | None,
          storage_url: str) -> dict[str, Any]:
    """The next trial (``{"trial": {...}}``) or why there is none (``{"trial": None, "reason": ...}``);
    ``sweep`` must be locked for the transaction (``find_sweep(for_update=True)``). A ``token`` already used
    for a trial of the sweep gets that trial again: an agent retrying a claim whose answer was lost (the
    server died after its commit) does not leave a trial that nobody runs."""
    if token is not None:
        again = session.scalars(select(SweepTrial).where(SweepTrial.sweep_pk == sweep.id,
                                                         SweepTrial.claim == token)).first()
        if again is not None:
            return {"trial": trial_json(again)}
    reap(session, sweep, storage_url)
    if sweep.state != "running":
        return {"trial": None, "reason": sweep.state}
    config = sweep_config(sweep)
    count, last = session.execute(select(func.count(), func.max(SweepTrial.number))
                                  .where(SweepTrial.sweep_pk == sweep.id)).one()
    if config.run_cap is not None and count >= config.run_cap:
        sweep.state = "finished"
        return {"trial": None, "reason": f"run_cap {config.run_cap} reached"}
    number = 0 if last is None else int(last) + 1
    grid_index: int | None = None
    config_key: str | None = None
    optuna_trial: Any = None
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
    elif config.method == "random":
        from tracker_core.sweeps._config import nest

        rng = random.Random(f"{sweep.seed}:{number}")  # noqa: S311 - a search, not a secret
        params = nest({p.path: p.sample(rng) for p in config.params})
    else:
        from tracker_core.sweeps._controller import propose_bayes

        def tried(key: str) -> bool:
            return session.scalars(select(SweepTrial.number).where(
                SweepTrial.sweep_pk == sweep.id, SweepTrial.config_key == _hash(key))).first() is not None

        rng = random.Random(f"{sweep.seed}:{number}")  # noqa: S311 - a search, not a secret
        found = propose_bayes(config, sweep.seed, _study(storage_url, sweep, config), rng, number, tried)
        if found is None:
            sweep.state = "finished"
            return {"trial": None, "reason": "every configuration was tried"}
        params, key, optuna_trial = found
        config_key = _hash(key)
    if optuna_trial is None and config.hyperband is not None:  # the pruner judges every trial
        optuna_trial = _study(storage_url, sweep, config).ask()
    from tracker_core.store._run_dir import new_run_id

    trial = SweepTrial(sweep_pk=sweep.id, number=number, run_id=new_run_id(), params=json.dumps(params),
                       grid_index=grid_index, config_key=config_key,
                       optuna_trial_id=None if optuna_trial is None else optuna_trial._trial_id,
                       state="running", agent=json.dumps(agent), claim=token, created_at=time.time())
    session.add(trial)
    session.flush()
    if optuna_trial is not None:
        optuna_trial.set_user_attr("tracker", {"params": params, "run_id": trial.run_id})
    return {"trial": trial_json(trial)}


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _tell(storage_url: str, sweep: Sweep, trial: SweepTrial) -> None:
    """Tell Optuna how a bayes trial ended (complete with its value, pruned when stopped, else failed)."""
    if trial.optuna_trial_id is None:
        return
    import optuna

    study = _study(storage_url, sweep, sweep_config(sweep))
    frozen = study._storage.get_trial(trial.optuna_trial_id)
    if frozen.state.is_finished():
        return
    if trial.state == "finished" and trial.value is not None:
        study.tell(frozen.number, trial.value, state=optuna.trial.TrialState.COMPLETE)
    else:
        pruned = trial.state == "stopped"
        study.tell(frozen.number, state=optuna.trial.TrialState.PRUNED if pruned else optuna.trial.TrialState.FAIL)


AGENT_HEARTBEAT = 1.0
"""Seconds between an agent's heartbeats for its running trial (its watcher's look at the sweep's state)."""


def reap(session: Session, sweep: Sweep, storage_url: str) -> None:
    """Trials whose agent fell silent (killed, its machine gone) as long as a run must to read ``crashed``
    (``stale_after``: 3 heartbeats + ``TRACKER_SERVER_STALE_SLACK``) end ``crashed``; the sweep goes on."""
    from tracker_server._run_view import stale_after

    now = time.time()
    silent = now - stale_after(AGENT_HEARTBEAT)
    for trial in session.scalars(select(SweepTrial).where(  # in SQL: a claim loads no live trial
            SweepTrial.sweep_pk == sweep.id, SweepTrial.state == "running",
            func.coalesce(SweepTrial.seen_at, SweepTrial.created_at) < silent)):
        trial.state, trial.ended_at = "crashed", now
        _tell(storage_url, sweep, trial)
    session.flush()


def report(session: Session, sweep: Sweep, number: int, value: float, iteration: int, storage_url: str) -> bool:
    """The trial logged the sweep metric for the ``iteration``-th time; True when Hyperband stops it."""
    trial = session.get(SweepTrial, (sweep.id, number))
    if trial is None:
        raise not_found(f"trial {number} of sweep {sweep.sweep_id}")
    config = sweep_config(sweep)
    if trial.optuna_trial_id is None or trial.state != "running" or config.hyperband is None:
        return False
    import optuna

    judged = optuna.Trial(_study(storage_url, sweep, config), trial.optuna_trial_id)
    judged.report(value, iteration)
    return bool(judged.should_prune())


def heartbeat(session: Session, sweep: Sweep, number: int) -> dict[str, str]:
    """The agent is alive and runs the trial; answers the sweep's and the trial's state (``cancelled``: stop it)."""
    trial = session.get(SweepTrial, (sweep.id, number))
    if trial is None:
        raise not_found(f"trial {number} of sweep {sweep.sweep_id}")
    if trial.state == "running":
        trial.seen_at = time.time()
    return {"state": sweep.state, "trial": trial.state}


def end_trial(session: Session, sweep: Sweep, number: int, state: str, value: float | None,
              storage_url: str) -> SweepTrial:
    """Record how a trial's run ended; a ``metric.target`` reached finishes the sweep. A trial already ended
    keeps its first end (an agent's retry after a lost answer changes nothing)."""
    trial = session.get(SweepTrial, (sweep.id, number), with_for_update=True)
    if trial is None:
        raise not_found(f"trial {number} of sweep {sweep.sweep_id}")
    if trial.state != "running":
        return trial
    trial.state, trial.value, trial.ended_at = state, value, time.time()
    _tell(storage_url, sweep, trial)
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

"""The local sweep controller: hands out trials and decides on early stops, with Optuna as the engine.

- ``grid``: W&B's grid points in W&B's order; each is claimed once (a unique index in the trials table).
- ``random``: W&B's distributions sampled as W&B defines them (``_params``), seeded by the sweep's seed and
  the trial's number, so a sweep is reproducible whatever the number of agents.
- ``bayes``: Optuna's TPE sampler (``constant_liar``, so running trials count), categoricals as categories; a
  configuration already run or running is never started again (a unique key in the trials table): TPE is
  asked again, then a random draw; when neither finds a new one the space is exhausted and the sweep finishes.
- ``early_terminate: hyperband``: Optuna's ``HyperbandPruner`` (``min_resource`` = W&B's first band,
  ``max_resource`` = ``max_iter`` or ``auto``, ``reduction_factor`` = ``eta``), fed the sweep metric each time the
  trial logs it; iteration ``n`` is the ``n``-th logged value (W&B's meaning, not ``_step``).

A trial that Optuna decides on (bayes: the sampler; hyperband: the pruner) is also an Optuna trial of the
sweep's study, its parameters and run id in the ``tracker`` user attribute (and, for bayes, as Optuna
parameters). A grid or random trial without hyperband is decided by the claim alone and is only a row of the
trials table, as on the team server: no Optuna write per trial (an ask, a user attribute and a tell were
most of a claim's and an end's cost).
"""

from __future__ import annotations

import contextlib
import json
import random
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker_core._process import current_identity, writer_state
from tracker_core.store._run_dir import new_run_id
from tracker_core.sweeps._config import SweepConfig, nest
from tracker_core.sweeps._store import SweepStore, TrialRow
from tracker_core.sweeps._trial import Trial

if TYPE_CHECKING:
    import sqlite3

    import optuna

__all__ = ["Claim", "Controller", "create_study", "propose_bayes"]

_BAYES_TRIES = 10
_RANDOM_TRIES = 200


@dataclass(frozen=True)
class Claim:
    """What ``next_trial`` found: a trial, or why there is none (``paused``: ask again later)."""

    trial: Trial | None
    optuna_trial_id: int | None = None
    reason: str = ""


def _storage(url: str) -> Any:
    """Optuna's RDB storage on the store's SQLite file, switched to WAL (a setting the file keeps): readers
    stop blocking the writer; and each of its connections to ``synchronous=NORMAL``, as ``sweeps.db``: a
    commit is not fsynced (it survives any process's crash; the last ones may be lost on power loss)."""
    import sqlite3

    import optuna

    sqlite = url.startswith("sqlite:///")
    if sqlite:
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"), timeout=60.0)) as db:
            db.execute("PRAGMA journal_mode=WAL")

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    if sqlite:
        from sqlalchemy import event

        event.listen(storage.engine, "connect", _no_fsync_per_commit)
        storage.engine.dispose()  # the connections opened while checking the schema, without the setting
    return storage


def _no_fsync_per_commit(connection: Any, _record: Any) -> None:
    connection.execute("PRAGMA synchronous=NORMAL")


def create_study(store: SweepStore, sweep_id: str, config: SweepConfig) -> None:
    """The sweep's Optuna study, in the store's Optuna database."""
    import optuna

    maximize = config.metric is not None and config.metric.goal == "maximize"
    optuna.create_study(study_name=sweep_id, storage=_storage(store.optuna_url),
                        direction="maximize" if maximize else "minimize")


class Controller:
    """One agent's view of one sweep; every decision goes through the shared databases."""

    def __init__(self, store: SweepStore, sweep_id: str, retry_crashed: bool = False) -> None:
        self.store = store
        self.retry_crashed = retry_crashed  # grid: hand out again a point whose trial crashed
        self.sweep = store.get(sweep_id)
        with warnings.catch_warnings():  # the deprecations were shown at sweep() time
            warnings.simplefilter("ignore")
            self.config = SweepConfig.parse(self.sweep.config)
        self._study: optuna.Study | None = None
        self._optuna = self.config.method == "bayes" or self.config.hyperband is not None  # Optuna trials
        self.agent = dict(current_identity())

    @property
    def study(self) -> optuna.Study:
        if self._study is None:
            import optuna

            pruner: optuna.pruners.BasePruner = optuna.pruners.NopPruner()
            band = self.config.hyperband
            if band is not None:
                pruner = optuna.pruners.HyperbandPruner(
                    min_resource=band.min_resource, max_resource=band.max_iter or "auto", reduction_factor=band.eta)
            self._study = optuna.load_study(study_name=self.sweep.id, storage=_storage(self.store.optuna_url),
                                            sampler=optuna.samplers.RandomSampler(), pruner=pruner)
        return self._study

    # ----- handing out trials -----------------------------------------------------------------

    def next_trial(self) -> Claim:
        """Claim the next trial for this agent (one transaction across all agents); reaps trials whose agent died.
        Bayes and hyperband trials are Optuna trials too (bayes: asked under the lock; hyperband: after it)."""
        study = self.study if self._optuna else None  # connect before taking the lock
        with self.store.transaction() as db:
            self._reap(db)
            state = db.execute("SELECT state FROM sweeps WHERE id = ?", (self.sweep.id,)).fetchone()[0]
            if state != "running":
                return Claim(None, reason=state)
            count, last = db.execute("SELECT COUNT(*), MAX(number) FROM trials WHERE sweep_id = ?",
                                     (self.sweep.id,)).fetchone()
            if self.config.run_cap is not None and count >= self.config.run_cap:
                self._finish_sweep(db)
                return Claim(None, reason=f"run_cap {self.config.run_cap} reached")
            number = 0 if last is None else last + 1
            proposal = self._propose(db, study, number)
            if proposal is None:
                self._finish_sweep(db)
                return Claim(None, reason="every configuration was tried" if self.config.method != "grid"
                             else "every grid point was handed out")
            params, grid_index, key, optuna_trial = proposal
            run_id = new_run_id()
            db.execute("INSERT INTO trials (sweep_id, number, run_id, params, config_key, grid_index, state, "
                       "optuna_trial_id, agent, created) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                       (self.sweep.id, number, run_id, json.dumps(params), key, grid_index,
                        None if optuna_trial is None else optuna_trial._trial_id, json.dumps(self.agent), time.time()))
        if optuna_trial is None and study is not None:  # hyperband on grid/random: the pruner's trial, no lock needed
            optuna_trial = study.ask()
            with self.store.transaction() as db:
                db.execute("UPDATE trials SET optuna_trial_id = ? WHERE sweep_id = ? AND number = ?",
                           (optuna_trial._trial_id, self.sweep.id, number))
        if optuna_trial is not None:
            optuna_trial.set_user_attr("tracker", {"params": params, "run_id": run_id})  # one write
        trial = Trial(self.sweep.id, number, run_id, self.sweep.project, self.sweep.entity, self.store.root, params)
        return Claim(trial, None if optuna_trial is None else optuna_trial._trial_id)

    def _propose(self, db: sqlite3.Connection, study: optuna.Study | None,
                 number: int) -> tuple[dict[str, Any], int | None, str | None, optuna.Trial | None] | None:
        """Parameters, grid index, configuration key and (bayes only: sampled under the lock) Optuna trial."""
        method = self.config.method
        if method == "grid":
            skip = "AND state != 'crashed'" if self.retry_crashed else ""
            taken = {row[0] for row in db.execute(f"SELECT grid_index FROM trials WHERE sweep_id = ? {skip}",  # noqa: S608
                                                  (self.sweep.id,))}
            index = next((i for i in range(self.config.grid_size()) if i not in taken), None)
            if index is None:
                return None
            return self.config.grid_point(index), index, None, None
        rng = random.Random(f"{self.sweep.seed}:{number}")  # noqa: S311 - a search, not a secret
        if method == "random":
            return self._random(rng), None, None, None
        assert study is not None  # bayes
        return self._bayes(db, study, rng, number)

    def _bayes(self, db: sqlite3.Connection, study: optuna.Study, rng: random.Random,
               number: int) -> tuple[dict[str, Any], None, str, optuna.Trial] | None:
        found = propose_bayes(self.config, self.sweep.seed, study, rng, number, lambda key: self._taken(db, key))
        return None if found is None else (found[0], None, found[1], found[2])

    def _random(self, rng: random.Random) -> dict[str, Any]:
        return _random(self.config, rng)

    def _taken(self, db: sqlite3.Connection, key: str) -> bool:
        return db.execute("SELECT 1 FROM trials WHERE sweep_id = ? AND config_key = ?",
                          (self.sweep.id, key)).fetchone() is not None

    def _finish_sweep(self, db: sqlite3.Connection) -> None:
        db.execute("UPDATE sweeps SET state = 'finished' WHERE id = ? AND state = 'running'", (self.sweep.id,))

    def _reap(self, db: sqlite3.Connection) -> None:
        """Trials left running by an agent that died (SIGKILL, OOM) end ``crashed``; the sweep goes on."""
        import optuna

        now = time.time()
        rows = db.execute("SELECT number, agent, optuna_trial_id FROM trials WHERE sweep_id = ? AND state = 'running'",
                          (self.sweep.id,)).fetchall()
        for number, agent, optuna_trial_id in rows:
            if writer_state(json.loads(agent), now, 30.0, now=now) == "dead":
                db.execute("UPDATE trials SET state = 'crashed', ended = ? WHERE sweep_id = ? AND number = ?",
                           (now, self.sweep.id, number))
                self._tell(optuna_trial_id, optuna.trial.TrialState.FAIL, None)

    # ----- while a trial runs, and at its end -------------------------------------------------

    def report(self, optuna_trial_id: int, value: float, iteration: int) -> bool:
        """The trial logged the sweep metric for the ``iteration``-th time; True if the pruner stops it."""
        import optuna

        trial = optuna.Trial(self.study, optuna_trial_id)
        trial.report(value, iteration)
        return bool(trial.should_prune())

    def end_trial(self, trial: Trial, optuna_trial_id: int | None, state: str, value: float | None) -> None:
        """Record how the trial's run ended; a ``metric.target`` reached finishes the sweep."""
        import optuna

        self.store.end_trial(trial.sweep_id, trial.number, state, value)
        if state == "finished" and value is not None:
            self._tell(optuna_trial_id, optuna.trial.TrialState.COMPLETE, value)
            metric = self.config.metric
            if metric is not None and metric.target is not None and (
                    value <= metric.target if metric.goal == "minimize" else value >= metric.target):
                with self.store.transaction() as db:
                    self._finish_sweep(db)
        elif state == "stopped":
            self._tell(optuna_trial_id, optuna.trial.TrialState.PRUNED, None)
        else:
            self._tell(optuna_trial_id, optuna.trial.TrialState.FAIL, None)

    def _tell(self, optuna_trial_id: int | None, state: Any, value: float | None) -> None:
        if optuna_trial_id is None:
            return
        storage = self.study._storage
        frozen = storage.get_trial(optuna_trial_id)
        if frozen.state.is_finished():
            return
        self.study.tell(frozen.number, value, state=state)

    def state(self) -> str:
        return self.store.state(self.sweep.id)

    def state_probe(self, number: int) -> tuple[Callable[[], str], Callable[[], None]]:
        """For trial ``number``'s watcher thread (its own connection): the sweep's state, and how to close it
        (an agent's liveness is its process's, which ``_reap`` checks)."""
        import sqlite3

        db = sqlite3.connect(self.store.path, timeout=60.0, check_same_thread=False)

        def probe() -> str:
            row = db.execute("SELECT state FROM sweeps WHERE id = ?", (self.sweep.id,)).fetchone()
            return str(row[0]) if row else "running"

        return probe, db.close

    def trials(self) -> list[TrialRow]:
        return self.store.trials(self.sweep.id)


def _random(config: SweepConfig, rng: random.Random) -> dict[str, Any]:
    return nest({p.path: p.sample(rng) for p in config.params})


def propose_bayes(config: SweepConfig, seed: int, study: optuna.Study, rng: random.Random, number: int,
                  taken: Callable[[str], bool]) -> tuple[dict[str, Any], str, optuna.Trial] | None:
    """Trial ``number`` of a bayes sweep: parameters, configuration key and Optuna trial, never a configuration
    ``taken`` (already run or running); TPE first, then a random draw; None when neither finds a new one.
    The caller holds the sweep's claim lock."""
    import optuna

    searched = config.searched
    distributions = {p.name: p.optuna_distribution() for p in searched}
    constants = {p.path: p.spec["value"] for p in config.params if p.kind == "constant"}
    study.sampler = optuna.samplers.TPESampler(seed=(seed * 1_000_003 + number) % 2**32, constant_liar=True)
    for _ in range(_BAYES_TRIES):
        trial = study.ask(fixed_distributions=distributions)
        params = nest({**constants, **{p.path: p.from_optuna(trial.params[p.name]) for p in searched}})
        key = _key(params)
        if not taken(key):
            return params, key, trial
        trial.set_user_attr("duplicate_of_a_tried_configuration", True)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    for _ in range(_RANDOM_TRIES):  # TPE keeps proposing tried points: a random one not tried yet
        params = _random(config, rng)
        key = _key(params)
        if not taken(key):
            values = {}
            for p in searched:
                value = _lookup(params, p.path)
                values[p.name] = p.spec["values"].index(value) if "values" in p.spec else value
            fixed = {name: dist for name, dist in distributions.items()
                     if dist.to_internal_repr(values[name]) is not None and dist._contains(
                         dist.to_internal_repr(values[name]))}
            study.enqueue_trial({name: values[name] for name in fixed}, skip_if_exists=False)
            trial = study.ask(fixed_distributions=distributions)
            return params, key, trial
    return None


def _key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _lookup(tree: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = tree
    for part in path:
        node = node[part]
    return node

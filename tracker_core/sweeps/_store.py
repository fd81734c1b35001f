"""Where a local sweep lives: ``<store>/.sweeps/sweeps.db`` (SQLite) holds the sweeps and their trials, and
``<store>/.sweeps/optuna.db`` is Optuna's RDB storage (one study per sweep, named by the sweep id).

Every agent on the machine opens the same two files. A trial is claimed inside one ``BEGIN IMMEDIATE``
transaction of ``sweeps.db`` (SQLite's write lock, held across processes), so ``run_cap`` and grid points
are counted and handed out once, whatever the number of agents (a unique index holds each grid point to one
trial that did not crash; a crashed one's point is handed out again only to an agent asked to retry it).
Writers queue on an ``flock`` of ``sweeps.lock`` before ``BEGIN IMMEDIATE``: the kernel wakes the next one as
soon as the lock is free, where SQLite's busy handler polls with sleeps growing to 100 ms (with 8 agents
those sleeps were most of a claim). Optuna's own writes go to the other file, so they never wait on that
lock. Both files are in WAL mode with ``synchronous=NORMAL`` (no fsync per commit; a commit survives the
crash of any process, the last ones may be lost if the machine loses power).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tracker_core.sweeps._errors import SweepNotFoundError

__all__ = ["SWEEP_STATES", "TRIAL_STATES", "SweepRecord", "SweepStore", "TrialRow", "new_sweep_id"]

SWEEP_STATES = ("running", "paused", "finished", "cancelled")
"""``finished``: no new trials (``tracker sweep stop``, or nothing left to try); running ones end normally.
``cancelled``: no new trials and the running ones are asked to stop."""
TRIAL_STATES = ("running", "finished", "failed", "killed", "stopped", "crashed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY, project TEXT NOT NULL, entity TEXT, name TEXT, config TEXT NOT NULL,
    state TEXT NOT NULL, seed INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    sweep_id TEXT NOT NULL, number INTEGER NOT NULL, run_id TEXT NOT NULL, params TEXT NOT NULL,
    config_key TEXT, grid_index INTEGER, state TEXT NOT NULL, optuna_trial_id INTEGER, agent TEXT NOT NULL,
    value REAL, created REAL NOT NULL, ended REAL,
    PRIMARY KEY (sweep_id, number));
CREATE UNIQUE INDEX IF NOT EXISTS trials_grid ON trials (sweep_id, grid_index)
    WHERE grid_index IS NOT NULL AND state != 'crashed';
CREATE UNIQUE INDEX IF NOT EXISTS trials_key ON trials (sweep_id, config_key) WHERE config_key IS NOT NULL;
"""

_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_sweep_id() -> str:
    """Eight lowercase letters and digits, as W&B's sweep ids (41 bits)."""
    return "".join(secrets.choice(_ID_CHARS) for _ in range(8))


@dataclass(frozen=True)
class SweepRecord:
    id: str
    project: str
    entity: str | None
    name: str | None
    config: dict[str, Any]
    state: str
    seed: int
    created: float


@dataclass(frozen=True)
class TrialRow:
    sweep_id: str
    number: int
    run_id: str
    params: dict[str, Any]
    state: str
    optuna_trial_id: int | None
    agent: dict[str, Any]
    value: float | None
    grid_index: int | None
    created: float = 0.0
    ended: float | None = None


class SweepStore:
    """The sweeps of one local store (``root`` is the store's folder, as ``TRACKER_DIR``)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(os.path.expanduser(root))
        self.folder = os.path.join(self.root, ".sweeps")
        os.makedirs(self.folder, exist_ok=True)
        self.path = os.path.join(self.folder, "sweeps.db")
        self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives a crash of any process
        self._db.executescript(_SCHEMA)
        self._lock_fd = os.open(os.path.join(self.folder, "sweeps.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._thread_lock = threading.Lock()  # flock does not exclude this process's other threads

    @property
    def optuna_url(self) -> str:
        return "sqlite:///" + os.path.join(self.folder, "optuna.db")

    def close(self) -> None:
        self._db.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``: one writer at a time across every process on the machine, queued
        on ``sweeps.lock`` (released by the kernel if its holder dies)."""
        with self._thread_lock:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    # ----- sweeps -----------------------------------------------------------------------------

    def create(self, config: dict[str, Any], project: str, entity: str | None, seed: int) -> str:
        sweep_id = new_sweep_id()
        with self.transaction() as db:
            db.execute("INSERT INTO sweeps VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                       (sweep_id, project, entity, config.get("name"), json.dumps(config), seed, time.time()))
        return sweep_id

    def get(self, sweep_id: str) -> SweepRecord:
        """Raises SweepNotFoundError."""
        row = self._db.execute("SELECT * FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        if row is None:
            raise SweepNotFoundError(sweep_id, self.root)
        return _sweep(row)

    def sweeps(self, project: str | None = None) -> list[SweepRecord]:
        rows = self._db.execute("SELECT * FROM sweeps WHERE ? IS NULL OR project = ? ORDER BY created",
                                (project, project)).fetchall()
        return [_sweep(row) for row in rows]

    def set_state(self, sweep_id: str, state: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE sweeps SET state = ? WHERE id = ?", (state, sweep_id))

    def state(self, sweep_id: str) -> str:
        row = self._db.execute("SELECT state FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        if row is None:
            raise SweepNotFoundError(sweep_id, self.root)
        return str(row[0])

    # ----- trials -----------------------------------------------------------------------------

    def trials(self, sweep_id: str) -> list[TrialRow]:
        rows = self._db.execute("SELECT sweep_id, number, run_id, params, state, optuna_trial_id, agent, value, "
                                "grid_index, created, ended FROM trials WHERE sweep_id = ? ORDER BY number",
                                (sweep_id,)).fetchall()
        return [TrialRow(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], json.loads(r[6]), r[7], r[8], r[9], r[10])
                for r in rows]

    def counts(self, sweep_id: str) -> dict[str, int]:
        rows = self._db.execute("SELECT state, COUNT(*) FROM trials WHERE sweep_id = ? GROUP BY state",
                                (sweep_id,)).fetchall()
        return {str(state): int(n) for state, n in rows}

    def end_trial(self, sweep_id: str, number: int, state: str, value: float | None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE trials SET state = ?, value = ?, ended = ? WHERE sweep_id = ? AND number = ?",
                       (state, value, time.time(), sweep_id, number))


def _sweep(row: tuple[Any, ...]) -> SweepRecord:
    return SweepRecord(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5], row[6], row[7])

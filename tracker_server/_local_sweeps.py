"""The local UI's sweeps: a local store's sweeps (``<store>/.sweeps/sweeps.db``, the file its agents share)
copied into the embedded server database, so the UI's sweep pages read them through the same routes as a team
server's. The file is opened read-only and read again only when it (or its WAL) changed; the copy follows the
store (states, new trials, values), never the other way.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tracker_server._deps import Scope, ServerState
from tracker_server._models import Project, Sweep, SweepTrial

__all__ = ["SweepMirror"]


class SweepMirror:
    """Copies the sweeps of the store at ``root`` into ``state`` under ``scope``'s team."""

    def __init__(self, root: Path, state: ServerState, scope: Scope) -> None:
        self.path = root / ".sweeps" / "sweeps.db"
        self.state, self.scope = state, scope
        self._seen: tuple[float, ...] | None = None

    def _stamp(self) -> tuple[float, ...] | None:
        stamps = []
        for suffix in ("", "-wal"):
            try:
                stat = os.stat(f"{self.path}{suffix}")
            except FileNotFoundError:
                if not suffix:
                    return None
                stat = None
            stamps += [stat.st_mtime, stat.st_size] if stat else [0.0, 0.0]
        return tuple(stamps)

    def scan(self) -> int:
        """Copy what changed since the last scan; returns how many sweeps were copied (0: nothing changed)."""
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return 0
        sweeps, trials = self._read()
        with self.state.db.write() as session:
            for row in sweeps:
                self._copy(session, row, [t for t in trials if t["sweep_id"] == row["id"]])
        self._seen = stamp
        return len(sweeps)

    def _read(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        with contextlib.closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10.0)) as db:
            db.row_factory = sqlite3.Row
            sweeps = [dict(row) for row in db.execute("SELECT * FROM sweeps ORDER BY created")]
            trials = [dict(row) for row in db.execute("SELECT * FROM trials ORDER BY sweep_id, number")]
        return sweeps, trials

    def _copy(self, session: Any, row: dict[str, Any], trials: list[dict[str, Any]]) -> None:
        config = json.loads(row["config"])
        project = session.scalars(select(Project).where(Project.team_id == self.scope.team_id,
                                                        Project.name == row["project"])).first()
        if project is None:
            now = time.time()
            project = Project(team_id=self.scope.team_id, name=row["project"], created_at=now, last_activity=now)
            session.add(project)
            session.flush()
        sweep = session.scalars(select(Sweep).where(Sweep.project_id == project.id,
                                                    Sweep.sweep_id == row["id"])).first()
        if sweep is None:
            sweep = Sweep(project_id=project.id, sweep_id=row["id"], created_at=row["created"], seed=row["seed"])
            session.add(sweep)
        sweep.name, sweep.method, sweep.config, sweep.state = (
            row["name"], str(config.get("method") or ""), row["config"], row["state"])
        session.flush()
        known = {t.number: t for t in session.scalars(select(SweepTrial).where(SweepTrial.sweep_pk == sweep.id))}
        for trial in trials:
            copy = known.get(trial["number"])
            if copy is None:
                copy = SweepTrial(sweep_pk=sweep.id, number=trial["number"])
                session.add(copy)
            copy.run_id, copy.params, copy.grid_index = trial["run_id"], trial["params"], trial["grid_index"]
            copy.optuna_trial_id, copy.state, copy.agent = trial["optuna_trial_id"], trial["state"], trial["agent"]
            copy.value, copy.created_at, copy.ended_at = trial["value"], trial["created"], trial["ended"]
        session.flush()

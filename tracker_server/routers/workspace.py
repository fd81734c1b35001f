"""What the web UI needs beyond the read API: a project's metric definitions (for its main metric)."""

from __future__ import annotations

import threading
import weakref
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from tracker_server._deps import Scope, ServerState, find_project, json_response, reader, server
from tracker_server._models import Record, Run

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["read"])
_RECENT = 50  # runs whose definitions are read


class _Definitions:
    """Each run's ``define_metric`` records, read once: a later call reads only the records stored since, so a
    workspace re-read while runs log (and a run of 10^6 log records) does not scan a run's records again.
    Records are immutable by seq, so what was read stays true."""

    _MAX_RUNS = 20_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[tuple[int, str], tuple[int, list[bytes]]] = {}

    def bodies(self, session: Session, runs: list[tuple[int, str, int]]) -> list[bytes]:
        """The records' bodies for (run pk, run id, last seq) in that order, each run's in seq order."""
        with self._lock:
            known = {(pk, run_id): self._runs.get((pk, run_id), (0, [])) for pk, run_id, _ in runs}
        behind = [(pk, run_id, last) for pk, run_id, last in runs if known[(pk, run_id)][0] < last]
        if behind:
            conditions = [and_(Record.run_pk == pk, Record.seq > known[(pk, run_id)][0], Record.seq <= last)
                          for pk, run_id, last in behind]
            found: dict[int, list[bytes]] = {}
            for pk, body in session.execute(select(Record.run_pk, Record.body)
                                            .where(Record.type == "define_metric", or_(*conditions))
                                            .order_by(Record.run_pk, Record.seq)):
                found.setdefault(pk, []).append(body)
            with self._lock:
                if len(self._runs) > self._MAX_RUNS:
                    self._runs.clear()
                for pk, run_id, last in behind:
                    known[(pk, run_id)] = (last, known[(pk, run_id)][1] + found.get(pk, []))
                    self._runs[(pk, run_id)] = known[(pk, run_id)]
        return [body for pk, run_id, _ in runs for body in known[(pk, run_id)][1]]


_CACHES: weakref.WeakKeyDictionary[Any, _Definitions] = weakref.WeakKeyDictionary()


def _definitions(db: Any) -> _Definitions:
    """The cache of one database (a process may serve several, as tests do)."""
    found = _CACHES.get(db)
    if found is None:
        found = _CACHES[db] = _Definitions()
    return found


class MetricDefinition(BaseModel):
    name: str
    goal: str | None
    step_metric: str | None


class Metrics(BaseModel):
    metrics: list[MetricDefinition]


@router.get("/metrics/{entity}/{project}", response_model=Metrics,
            summary="define_metric definitions of the project's latest runs, first defined first")
def metrics(entity: str, project: str, scope: Annotated[Scope, Depends(reader)],
            state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.db.read() as session:
        found = find_project(session, scope, project)
        runs = session.execute(select(Run.id, Run.run_id, Run.last_seq).where(Run.project_id == found.id)
                               .order_by(Run.created_at.desc()).limit(_RECENT)).all()
        bodies = _definitions(state.db).bodies(session, [(pk, run_id, last) for pk, run_id, last in sorted(runs)])
    seen: dict[str, dict[str, Any]] = {}
    for body in bodies:
        metric = orjson.loads(body).get("metric") or {}
        name = metric.get("name")
        if not isinstance(name, str) or name in seen:
            continue
        goal = {"maximize": "max", "minimize": "min", "max": "max", "min": "min"}.get(str(metric.get("goal")))
        step_metric = metric.get("step_metric")
        seen[name] = {"name": name, "goal": goal, "step_metric": step_metric if isinstance(step_metric, str) else None}
    return json_response({"metrics": list(seen.values())})


class ArtifactVersion(BaseModel):
    name: str
    version: int | None
    digest: str
    aliases: list[str]
    logged_by: list[str]
    used_by: list[str]


class ArtifactRun(BaseModel):
    name: str
    state: str


class Artifacts(BaseModel):
    artifacts: list[ArtifactVersion]
    runs: dict[str, ArtifactRun]


@router.get("/artifacts/{entity}/{project}", response_model=Artifacts,
            summary="Artifact versions logged and used by the project's runs (the lineage graph's nodes and edges)")
def artifacts(entity: str, project: str, scope: Annotated[Scope, Depends(reader)],
              state: Annotated[ServerState, Depends(server)]) -> Response:
    """Versions are identified by digest; aliases are the latest each producing run gave them."""
    from tracker_server._run_view import effective_state

    with state.db.read() as session:
        found = find_project(session, scope, project)
        rows = session.execute(select(Run.run_id, Record.body).join(Run, Run.id == Record.run_pk)
                               .where(Run.project_id == found.id, Record.type == "artifact")
                               .order_by(Record.run_pk, Record.seq)).all()
        involved = {run_id for run_id, _ in rows}
        runs = {run.run_id: {"name": run.name or run.run_id, "state": effective_state(run)}
                for run in session.scalars(select(Run).where(Run.project_id == found.id, Run.run_id.in_(involved)))}
    versions: dict[str, dict[str, Any]] = {}
    for run_id, body in rows:
        record = orjson.loads(body)
        digest = record.get("digest")
        if not isinstance(digest, str):
            continue
        entry = versions.setdefault(digest, {"name": str(record.get("name")), "version": None, "digest": digest,
                                             "aliases": [], "logged_by": [], "used_by": []})
        if isinstance(record.get("version"), int):
            entry["version"] = record["version"]
        side = "logged_by" if record.get("direction") == "logged" else "used_by"
        if run_id not in entry[side]:
            entry[side].append(run_id)
        if side == "logged_by" and isinstance(record.get("aliases"), list):
            entry["aliases"] = [a for a in record["aliases"] if isinstance(a, str)]
    ordered = sorted(versions.values(), key=lambda v: (v["name"], v["version"] if v["version"] is not None else -1))
    return json_response({"artifacts": ordered, "runs": runs})

"""What the web UI needs beyond the read API: a project's metric definitions (for its main metric)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import select

from tracker_server._deps import Scope, ServerState, find_project, json_response, reader, server
from tracker_server._models import Record, Run

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["read"])
_RECENT = 50  # runs whose definitions are read


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
        runs = list(session.scalars(select(Run.id).where(Run.project_id == found.id)
                                    .order_by(Run.created_at.desc()).limit(_RECENT)))
        bodies = session.scalars(select(Record.body).where(Record.run_pk.in_(runs), Record.type == "define_metric")
                                 .order_by(Record.run_pk, Record.seq)).all() if runs else []
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

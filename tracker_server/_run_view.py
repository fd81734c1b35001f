"""A stored run as the API shows it, with its state inferred at read time."""

from __future__ import annotations

import time
from typing import Any

import orjson

from tracker_server._models import Run

__all__ = ["STALE_SLACK", "effective_state", "run_json", "stale_after"]


def _stale_slack() -> float:
    from tracker_core._settings import ServerSettings, resolve

    return resolve(ServerSettings, {}).stale_slack


STALE_SLACK = _stale_slack()
"""Seconds of clock skew and delivery delay allowed on top of 3 heartbeat intervals (``TRACKER_SERVER_STALE_SLACK``,
read when the server process starts)."""


def stale_after(heartbeat_interval: float) -> float:
    """Seconds of silence after which a run with no final status reads as crashed."""
    return max(3.0 * heartbeat_interval + STALE_SLACK, STALE_SLACK)


def effective_state(run: Run | Any, now: float | None = None) -> str:
    """The final state from the run's own records; ``crashed`` once a running run's heartbeat is stale."""
    if run.state != "running":
        return run.state
    now = time.time() if now is None else now
    last = run.heartbeat_at or run.created_at
    return "crashed" if now - last > stale_after(run.heartbeat_interval) else "running"


def run_json(run: Run | Any, team: str, project: str, now: float | None = None, *, full: bool = True
             ) -> dict[str, Any]:
    """The ``<run>`` object of the API (config, summary and meta as encoded in the log), from a ``Run`` or a row
    of its columns. The JSON columns (tags, config, summary, meta) pass through as they are stored, unparsed:
    a listing of 10,000 runs spends its time here."""
    return {
        "id": run.run_id, "entity": team, "project": project, "name": run.name or run.run_id,
        "state": effective_state(run, now), "exit_code": run.exit_code, "signal": run.signal,
        "traceback": run.traceback, "preempted": run.preempted, "tags": orjson.Fragment(run.tags),
        "group": run.group_name, "job_type": run.job_type, "notes": run.notes, "host": run.host,
        "created_at": run.created_at, "updated_at": run.updated_at, "heartbeat_at": run.heartbeat_at,
        "ended_at": run.ended_at, "last_seq": run.last_seq,
        "config": orjson.Fragment(run.config), "summary": orjson.Fragment(run.summary),
        "meta": orjson.Fragment(run.meta) if full else {},
    }

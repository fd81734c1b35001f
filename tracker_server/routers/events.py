"""Live events (server-sent events) for a project or one run, from database polls only, so any worker
of any machine can serve a stream of records that another one ingested."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import or_, select
from sqlalchemy.orm import load_only

from tracker_server._deps import Scope, ServerState, find_project, find_run, reader, server
from tracker_server._models import Run
from tracker_server._raw_records import records_after
from tracker_server._run_view import effective_state, run_json

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["live"])
_PAGE = 2000
_MARGIN = 30.0  # seconds: transactions commit in any order, so look back this far for changed runs
# What a poll reads of every run: its visible fields and where its records end. A run that changed is
# read whole afterwards, so a first poll of 10,000 runs does not load 10,000 configs and summaries.
_POLLED = (Run.id, Run.run_id, Run.state, Run.created_at, Run.updated_at, Run.heartbeat_at, Run.heartbeat_interval,
           Run.name, Run.tags, Run.notes, Run.group_name, Run.job_type, Run.exit_code, Run.last_seq)


class _Watch:
    """What a stream has told its client: each run's last seq and its visible fields."""

    def __init__(self, state: ServerState, scope: Scope, project: str, run_id: str | None, after_seq: int | None):
        self.state, self.scope, self.project, self.run_id = state, scope, project, run_id
        self.seen: dict[str, tuple[int, tuple[Any, ...]]] = {}
        self.since = 0.0
        self.after_seq = after_seq
        self.first = True

    @staticmethod
    def _visible(run: Run, now: float) -> tuple[Any, ...]:
        return (effective_state(run, now), run.name, run.tags, run.notes, run.group_name, run.job_type, run.exit_code)

    def _changed(self, run: Run, now: float) -> bool:
        """Whether this poll sends the run's JSON (see ``poll``)."""
        known = self.seen.get(run.run_id)
        if known is None:
            return not self.first or self.run_id is not None
        return known[1] != self._visible(run, now)

    def poll(self) -> list[bytes]:
        """The events since the last poll, as SSE frames."""
        frames: list[bytes] = []
        now = time.time()
        with self.state.db.read() as session:
            if self.run_id is not None:
                runs = [find_run(session, self.scope, self.project, self.run_id)]
            else:
                project = find_project(session, self.scope, self.project)
                query = select(Run).options(load_only(*_POLLED)).where(Run.project_id == project.id)
                if not self.first:  # changed runs, and running ones (they turn crashed with no write at all)
                    query = query.where(or_(Run.updated_at >= self.since - _MARGIN, Run.state == "running"))
                runs = list(session.scalars(query))
            changed = {run.id for run in runs if self._changed(run, now)}
            ids = sorted(changed)
            for offset in range(0, len(ids), 500):  # the rest of each changed run's columns, in a few queries
                session.scalars(select(Run).where(Run.id.in_(ids[offset:offset + 500]))).all()
            for run in runs:
                known = self.seen.get(run.run_id)
                if run.id in changed:
                    frames.append(_frame("run", run_json(run, self.scope.team, self.project, now)))
                if known is not None:
                    start = known[0]
                elif not self.first:
                    start = 0  # a run new since the last poll: all of its records
                elif self.run_id is not None and self.after_seq is not None:
                    start = self.after_seq
                else:
                    start = run.last_seq
                last = start
                while last < run.last_seq:
                    bodies = records_after(session, run.id, last, upto=run.last_seq, limit=_PAGE)
                    if not bodies:
                        break
                    prefix = b'{"run":' + orjson.dumps(run.run_id) + b',"record":'
                    frames.extend(b"event: record\ndata: " + prefix + body + b"}\n\n" for _, body in bodies)
                    last = bodies[-1][0]
                self.seen[run.run_id] = (last, self._visible(run, now))
            if self.run_id is None:
                self.since = max((run.updated_at for run in runs), default=self.since)
        self.first = False
        return frames


def _frame(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


@router.get("/events/{entity}/{project}", summary="Live records and run changes (text/event-stream)",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "events `record` ({run, record}) and `run` (<run>), and keep-alives"}})
async def events(entity: str, project: str, request: Request, scope: Annotated[Scope, Depends(reader)],
                 state: Annotated[ServerState, Depends(server)],
                 run: Annotated[str | None, Query(description="only this run")] = None,
                 after_seq: Annotated[int | None, Query(ge=0, description="with run: replay records after it")] = None,
                 ) -> StreamingResponse:
    watch = _Watch(state, scope, project, run, after_seq)
    first = await run_in_threadpool(watch.poll)  # a missing project or run answers 404 before the stream starts

    async def stream() -> AsyncIterator[bytes]:
        yield b": connected\n\n"
        for frame in first:
            yield frame
        quiet_since = time.monotonic()
        while not await request.is_disconnected():
            await asyncio.sleep(state.config.poll_interval)
            frames = await run_in_threadpool(watch.poll)
            for frame in frames:
                yield frame
            if frames:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > state.config.keepalive_interval:
                yield b": keep-alive\n\n"
                quiet_since = time.monotonic()

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

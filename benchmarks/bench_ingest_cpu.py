"""The server's ingest path in-process: CPU time per point of ``parse_batch`` + ``apply_batch`` + commit.

    PYTHONPATH=$PWD python benchmarks/bench_ingest_cpu.py [--db postgresql://...] [--batches 43] [--profile]

One run, batches of 1,000 ``log`` rows of 10 float keys (the shape ``bench_server.py`` sends), into a fresh
SQLite database (or the given PostgreSQL one, whose own processes are not counted). After 3 warm-up batches
the rest go in four equal parts; each part's CPU time per point is printed and the best as points per CPU
second (the machine is shared: the best part is the steadiest figure). ``--profile``: cProfile instead.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import tempfile
import time

import orjson

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tracker_server._config import database_url
from tracker_server._database import Database
from tracker_server._ingest import _save_fold, apply_batch, new_run, parse_batch, refresh_meta
from tracker_server._models import Project, Run, Team
from tracker_server._schema import upgrade

ROWS, KEYS = 1000, 10


def _bodies(batches: int, t0: float) -> list[bytes]:
    random.seed(1)
    bodies, seq = [], 1
    for batch in range(batches):
        lines = []
        for step in range(batch * ROWS, (batch + 1) * ROWS):
            lines.append(orjson.dumps({"seq": seq, "t": t0 + step * 0.01, "type": "log", "step": step,
                                       "data": {f"m{k}": random.random() for k in range(KEYS)}}))
            seq += 1
        bodies.append(b"\n".join(lines) + b"\n")
    return bodies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="a PostgreSQL URL (default: a fresh SQLite file)")
    parser.add_argument("--batches", type=int, default=43)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    db = Database(database_url(args.db, tempfile.mkdtemp(prefix="bench-ingest-cpu-")))
    upgrade(db)
    t0 = time.time()
    with db.write() as session:
        team = Team(name=f"t{random.randrange(1 << 30)}", created_at=t0)
        session.add(team)
        session.flush()
        project = Project(team_id=team.id, name="p", created_at=t0, last_activity=t0)
        session.add(project)
        session.flush()
        run, fold = new_run(session, project.id, "r", t0)
        refresh_meta(run, fold)
        _save_fold(run, fold)
        run_pk = run.id
    bodies = _bodies(args.batches, t0)

    def ingest(part: list[bytes]) -> None:
        for body in part:
            batch = parse_batch(body)
            with db.write() as session:
                apply_batch(session, session.get(Run, run_pk, with_for_update=True), batch)

    ingest(bodies[:3])
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        ingest(bodies[3:])
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        return 0
    size = (len(bodies) - 3) // 4
    cpus = []
    for index in range(4):
        started = time.process_time()
        ingest(bodies[3 + index * size:3 + (index + 1) * size])
        cpus.append(time.process_time() - started)
    points = size * ROWS * KEYS
    print("CPU us a point, four parts:", " ".join(f"{cpu / points * 1e6:.3f}" for cpu in cpus),
          f"| best {points / min(cpus):,.0f} points per CPU second; load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

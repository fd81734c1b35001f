"""The team server's budgets (issue: "The team server"), on a real server process over SQLite or PostgreSQL.

Measures, as medians: batched ingest with 8 concurrent clients (points/s); "best of 10,000 runs";
a filtered, sorted listing of 10,000 runs; a 10^6-point history in full and at 2,000 buckets;
start-up on an existing database; the cost of authentication per request; an idle server's memory.
The 10,000 runs and the long history are stored through the server's own ingest code in-process
(the same transactions a request runs, without HTTP), to keep the set-up short; every measurement
goes through HTTP to the server process. MLflow's figures are the ones the issue quotes for the same
questions (MLflow is not run here unless a comparison script is added).

    python benchmarks/bench_server.py [--db postgresql://postgres@127.0.0.1/bench] [--runs 10000]
                                      [--points 1000000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker_core.store._replay import RunState  # noqa: E402
from tracker_server._config import ServerConfig, database_url  # noqa: E402
from tracker_server._database import Database  # noqa: E402
from tracker_server._identity import create_key  # noqa: E402
from tracker_server._ingest import Fold, _save_fold, apply_batch, parse_batch, refresh_meta  # noqa: E402
from tracker_server._models import Project, Run  # noqa: E402
from tracker_server._schema import upgrade  # noqa: E402

BUDGETS = {"best": 0.050, "listing": 0.100, "history_full": 0.300, "history_buckets": 0.030, "startup": 2.0,
           "auth": 0.001}
MLFLOW = {"ingest_pg": 7663, "ingest_sqlite": 5707, "best_pg": 0.096, "best_sqlite": 5.6, "history_full": 74.0,
          "history_sampled": 2.9, "startup": "12-55 s"}


def _lines(run_id: str, start_seq: int, steps: range, keys: int, t0: float) -> list[bytes]:
    lines = []
    seq = start_seq
    for step in steps:
        data = {f"m{k}": random.random() for k in range(keys)}
        lines.append(orjson.dumps({"seq": seq, "t": t0 + step * 0.01, "type": "log", "step": step, "data": data})
                     + b"\n")
        seq += 1
    return lines


def _header(run_id: str, project: str, config: dict[str, object], t0: float) -> list[bytes]:
    return [orjson.dumps({"seq": 1, "t": t0, "type": "run", "id": run_id, "project": project, "name": run_id,
                          "started": t0, "heartbeat_interval": 30.0, "host": "bench"}) + b"\n",
            orjson.dumps({"seq": 2, "t": t0, "type": "config", "data": config}) + b"\n",
            orjson.dumps({"seq": 3, "t": t0, "type": "status", "status": "running"}) + b"\n"]


def _store_run(db: Database, team_id: int, project: str, run_id: str, lines: list[bytes]) -> None:
    with db.write() as session:
        found = session.query(Project).filter_by(team_id=team_id, name=project).first()
        now = time.time()
        if found is None:
            found = Project(team_id=team_id, name=project, created_at=now, last_activity=now)
            session.add(found)
            session.flush()
        run = Run(project_id=found.id, run_id=run_id, state="running", created_at=now, updated_at=now, last_seq=0,
                  edits="{}", tags="[]", preempted=False, heartbeat_interval=30.0)
        session.add(run)
        session.flush()
        fold = Fold(RunState(keep_rows=False))
        refresh_meta(run, fold)
        _save_fold(run, fold)
        apply_batch(session, run, parse_batch(b"".join(lines)))


def _populate(db: Database, team_id: int, runs: int, points: int) -> None:
    t0 = time.time() - 3600
    started = time.monotonic()
    for index in range(runs):
        run_id = f"r{index:05d}"
        config = {"lr": 10 ** random.uniform(-5, -1), "batch": random.choice([32, 64, 128]), "seed": index}
        lines = _header(run_id, "sweep", config, t0 + index) + _lines(run_id, 4, range(10), 3, t0 + index)
        final = {"seq": len(lines) + 1, "t": t0 + index + 1, "type": "summary", "set": {"val/acc": random.random()}}
        lines.append(orjson.dumps(final) + b"\n")
        lines.append(orjson.dumps({"seq": len(lines) + 1, "t": t0 + index + 2, "type": "status",
                                   "status": "finished", "exit_code": 0}) + b"\n")
        _store_run(db, team_id, "sweep", run_id, lines)
    print(f"  stored {runs} runs in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    lines = _header("long", "long", {}, t0)
    batch = 50_000
    with db.write() as session:
        pass
    _store_run(db, team_id, "long", "long", lines)
    with db.write() as session:
        run = session.query(Run).filter_by(run_id="long").one()
    for start in range(0, points, batch):
        chunk = _lines("long", 4 + start, range(start, min(points, start + batch)), 1, t0)
        with db.write() as session:
            run = session.query(Run).filter_by(run_id="long").one()
            apply_batch(session, run, parse_batch(b"".join(chunk)))
    print(f"  stored a {points}-point history in {time.monotonic() - started:.1f} s")


def _median_time(call: object, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _start(args: list[str], url: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], float]:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tracker_server", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                return proc, time.perf_counter() - started
        except httpx.HTTPError:
            time.sleep(0.02)
        if proc.poll() is not None:
            raise SystemExit("the server exited")


def _ingest(url: str, key: str, clients: int, batches: int, steps_per_batch: int, keys: int) -> float:
    """Points per second with ``clients`` threads, each streaming its own run in gzip batches."""
    bodies: list[list[bytes]] = []
    t0 = time.time()
    for client in range(clients):
        run_id = f"ingest{client}-{random.randrange(1 << 30)}"
        parts = [gzip.compress(b"".join(_header(run_id, "ingest", {}, t0)), 1)]
        seq = 4
        for batch in range(batches):
            lines = _lines(run_id, seq, range(batch * steps_per_batch, (batch + 1) * steps_per_batch), keys, t0)
            seq += len(lines)
            parts.append(gzip.compress(b"".join(lines), 1))
        bodies.append([run_id.encode(), *parts])
    headers = {"Authorization": f"Bearer {key}", "Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"}

    def work(parts: list[bytes]) -> None:
        run_id = parts[0].decode()
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            client.put(f"/api/v1/runs/bench/ingest/{run_id}", json={"meta": {}},
                       headers={"Content-Encoding": "identity"}).raise_for_status()
            for body in parts[1:]:
                client.post(f"/api/v1/runs/bench/ingest/{run_id}/records", content=body).raise_for_status()

    threads = [threading.Thread(target=work, args=(parts,)) for parts in bodies]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return clients * batches * steps_per_batch * keys / elapsed


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="a PostgreSQL URL (default: the embedded SQLite)")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    random.seed(7)
    tmp = tempfile.mkdtemp(prefix="bench-server-")
    try:
        data = os.path.join(tmp, "data")
        config = ServerConfig(data=data, db=args.db)
        db = Database(database_url(args.db, data))
        upgrade(db)
        with db.write() as session:
            key = create_key(session, "bench", "bench", "member")
        with db.write() as session:
            from tracker_server._models import Team

            team_id = session.query(Team).filter_by(name="bench").one().id
        print(f"database: {config.database_url.split('@')[-1]}")
        _populate(db, team_id, args.runs, args.points)
        db.dispose()
        port = 8000 + random.randrange(1000)
        url = f"http://127.0.0.1:{port}"
        server_args = ["--data", data, "--port", str(port), *(["--db", args.db] if args.db else [])]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        startups = []
        for _ in range(3):
            proc, took = _start(server_args, url, env)
            startups.append(took)
            proc.terminate()
            proc.wait()
        proc, _ = _start(server_args, url, env)
        try:
            time.sleep(1.0)
            idle_rss = _rss_mib(proc.pid)
            client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120)
            results: dict[str, float] = {"startup": statistics.median(startups)}
            results["best"] = _median_time(lambda: client.get("/api/v1/best/bench/sweep", params={
                "metric": "val/acc", "goal": "max"}).raise_for_status(), args.rounds)
            results["best_filtered"] = _median_time(lambda: client.get("/api/v1/best/bench/sweep", params={
                "metric": "val/acc", "goal": "max", "filters": ["config.lr<1e-3", "config.batch>=64"]}
            ).raise_for_status(), args.rounds)
            results["listing"] = _median_time(lambda: client.get("/api/v1/runs/bench/sweep", params={
                "filters": ["config.lr<1e-3"], "order": "-summary.val/acc", "limit": 100}).raise_for_status(),
                args.rounds)
            results["listing_python"] = _median_time(lambda: client.get("/api/v1/runs/bench/sweep", params={
                "filters": ["config.lr<1e-3", "name~^r0"], "order": "-summary.val/acc", "limit": 100}
            ).raise_for_status(), max(3, args.rounds // 3))
            path = "/api/v1/runs/bench/long/long/history"
            full = client.get(path, params={"keys": "m0"}).json()
            assert len(full["series"]["m0"]["x"]) == args.points
            results["history_full"] = _median_time(lambda: client.get(path, params={"keys": "m0"}).content,
                                                   max(3, args.rounds // 3))
            results["history_buckets"] = _median_time(lambda: client.get(path, params={
                "keys": "m0", "buckets": 2000}).raise_for_status(), args.rounds)
            health = _median_time(lambda: client.get("/healthz").raise_for_status(), args.rounds * 10)
            whoami = _median_time(lambda: client.get("/api/v1/whoami").raise_for_status(), args.rounds * 10)
            results["auth"] = max(0.0, whoami - health)
            results["ingest"] = _ingest(url, key, clients=8, batches=5, steps_per_batch=1000, keys=10)
            client.close()
        finally:
            proc.terminate()
            proc.wait()
        db_kind = "pg" if args.db else "sqlite"
        print(f"\n{'what':44} {'tracker':>12} {'budget':>10} {'MLflow (issue)':>16}")

        def row(name: str, value: str, budget: str, peer: str, ok: bool | None) -> None:
            verdict = "" if ok is None else ("PASS" if ok else "FAIL")
            print(f"{name:44} {value:>12} {budget:>10} {peer:>16}  {verdict}")

        ms = lambda s: f"{s * 1000:.1f} ms"  # noqa: E731
        row("ingest, 8 clients, batches of 10,000 points", f"{results['ingest']:,.0f}/s", "50x MLflow",
            f"{MLFLOW['ingest_' + db_kind]:,}/s", results["ingest"] >= 50 * MLFLOW["ingest_" + db_kind])
        row(f"best of {args.runs:,} runs", ms(results["best"]), "50 ms", f"{MLFLOW['best_' + db_kind]} s",
            results["best"] <= BUDGETS["best"])
        row("best, filtered (2 config filters)", ms(results["best_filtered"]), "", "", None)
        row(f"filtered listing of {args.runs:,} runs (page of 100)", ms(results["listing"]), "100 ms", "",
            results["listing"] <= BUDGETS["listing"])
        row("  with a filter decided in Python (regex)", ms(results["listing_python"]), "", "", None)
        row(f"history of {args.points:,} points, full", ms(results["history_full"]), "300 ms",
            f"{MLFLOW['history_full']} s", results["history_full"] <= BUDGETS["history_full"])
        row("  at 2,000 buckets", ms(results["history_buckets"]), "30 ms", f"{MLFLOW['history_sampled']} s",
            results["history_buckets"] <= BUDGETS["history_buckets"])
        row("start-up on an existing database", f"{results['startup']:.2f} s", "2 s", str(MLFLOW["startup"]),
            results["startup"] <= BUDGETS["startup"])
        row("authentication per request", f"{results['auth'] * 1e6:.0f} us", "1 ms", "", results["auth"] <= 0.001)
        row("idle server: 1 process, RSS", f"{idle_rss:.0f} MiB", "", "16 processes", None)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

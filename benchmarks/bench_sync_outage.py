"""The team server down for a long time (issue: "The team server", Performance): client memory stays flat,
the training loop never waits, and the backlog catches up at the server's ingest speed once it is back.

A real client process (``tracker_core.init`` in online mode, the uploader running) logs ``--keys``
scalars at ``--rate`` steps/s while the server is stopped (nothing listens on its port) for
``--minutes``; this script samples the client's RSS every ``--sample`` seconds. Then the server
process starts; the client keeps logging for ``--after`` seconds at the same rate and the script
polls the server's read API until the run's acknowledged ``seq`` reaches the one the local log had
when the server started: the catch-up. Then the client finishes (its uploader sends the rest) and
the server must hold exactly the local log's last ``seq``. Last, the server's ingest speed is
measured on its own in the same run: one client posting gzip batches of the same records, one
after the other, as the uploader does.

Reported: ``log()`` latency median / p99 / max (while the server is down and while catching up),
RSS first / last / max, the delay from the server's start to its first acknowledged batch (the
uploader's backoff), the catch-up time and its points/s against the ingest speed.

    python benchmarks/bench_sync_outage.py [--minutes 10] [--quick] [--rate 200] [--keys 10]

Everything is on 127.0.0.1 in a temporary folder that is deleted at the end.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent

CLIENT = r"""
import array, json, sys, time
import tracker_core as tracker

rate, keys, outage, after = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
total = int(rate * (outage + after) * 1.2) + 1000
latency = array.array("d", bytes(8 * total))  # allocated (and touched) before the first sample
names = [f"train/m{k}" for k in range(keys)]
run = tracker.init(project="outage", entity="bench", console="off")
print("run", run.id, flush=True)
step, phase_end, phases = 0, [], []
started = time.monotonic()
for phase, seconds in (("down", outage), ("catch-up", after)):
    end = time.monotonic() + seconds
    first = step
    while True:
        now = time.monotonic()
        if now >= end or step >= total:
            break
        row = {name: (step % 997) * 1e-3 + k for k, name in enumerate(names)}
        t0 = time.perf_counter()
        run.log(row, step=step)
        latency[step] = time.perf_counter() - t0
        step += 1
        ahead = started + step / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    phases.append((phase, first, step))
    print("phase-over", phase, step, flush=True)
t0 = time.monotonic()
run.finish()
finish = time.monotonic() - t0
stats = {}
for phase, first, last in phases:
    part = sorted(latency[first:last])
    stats[phase] = {"calls": len(part), "median": part[len(part) // 2], "p99": part[int(len(part) * 0.99)],
                    "max": part[-1]}
print("result", json.dumps({"id": run.id, "steps": step, "finish": finish, "latency": stats}), flush=True)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _last_seq(log: Path) -> int:
    """The ``seq`` of the log's last complete line."""
    with open(log, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 65536))
        lines = handle.read().split(b"\n")[:-1]
    return int(orjson.loads(lines[-1])["seq"]) if lines else 0


def _start_server(data: str, port: int, env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tracker_server", "--data", data, "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {Path(log).read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the server did not start within 60 s")


def _server_seq(client: httpx.Client, run_id: str) -> int:
    try:
        answer = client.get(f"/api/v1/runs/bench/outage/{run_id}")
    except httpx.HTTPError:
        return 0
    return int(answer.json().get("last_seq") or 0) if answer.status_code == 200 else 0


def _ingest_speed(url: str, key: str, keys: int, batches: int, steps_per_batch: int) -> float:
    """Points/s of one client posting gzip batches of ``steps_per_batch`` records of ``keys`` scalars."""
    run_id = f"ingest-{random.randrange(1 << 30)}"
    t0 = time.time()
    header = [{"seq": 1, "t": t0, "type": "run", "id": run_id, "project": "ingest", "name": run_id, "started": t0,
               "heartbeat_interval": 30.0, "host": "bench"},
              {"seq": 2, "t": t0, "type": "status", "status": "running"}]
    bodies, seq = [gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in header), 1)], 3
    for batch in range(batches):
        lines = []
        for step in range(batch * steps_per_batch, (batch + 1) * steps_per_batch):
            data = {f"train/m{k}": (step % 997) * 1e-3 + k for k in range(keys)}
            lines.append(orjson.dumps({"seq": seq, "t": t0, "type": "log", "step": step, "data": data}) + b"\n")
            seq += 1
        bodies.append(gzip.compress(b"".join(lines), 1))
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        client.put(f"/api/v1/runs/bench/ingest/{run_id}", json={"meta": {}}).raise_for_status()
        client.post(f"/api/v1/runs/bench/ingest/{run_id}/records", content=bodies[0], headers=headers
                    ).raise_for_status()
        started = time.perf_counter()
        for body in bodies[1:]:
            client.post(f"/api/v1/runs/bench/ingest/{run_id}/records", content=body, headers=headers
                        ).raise_for_status()
        elapsed = time.perf_counter() - started
    return batches * steps_per_batch * keys / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the server stays down")
    parser.add_argument("--quick", action="store_true", help="a 1-minute outage")
    parser.add_argument("--rate", type=float, default=200.0, help="steps/s the client logs")
    parser.add_argument("--keys", type=int, default=10, help="scalars per step")
    parser.add_argument("--after", type=float, default=90.0, help="seconds the client logs once the server is up")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between RSS samples")
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.after = 1.0, 60.0
    tmp = tempfile.mkdtemp(prefix="bench-outage-")
    server: subprocess.Popen[bytes] | None = None
    client_proc: subprocess.Popen[str] | None = None
    try:
        data, store = os.path.join(tmp, "server"), os.path.join(tmp, "store")
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        made = subprocess.run([sys.executable, "-m", "tracker_server", "keys", "create", "--team", "bench",
                               "--name", "bench", "--data", data], env=env, capture_output=True, text=True,
                              timeout=120)
        if made.returncode != 0:
            raise SystemExit(made.stderr)
        key = made.stdout.strip().split()[-1]
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        client_env = dict(env, TRACKER_SERVER=url, TRACKER_API_KEY=key, TRACKER_MODE="online", TRACKER_DIR=store,
                          TRACKER_SILENT="false", TRACKER_SYNC_TIMEOUT="120")
        outage = args.minutes * 60
        client_proc = subprocess.Popen(
            [sys.executable, "-c", CLIENT, str(args.rate), str(args.keys), str(outage), str(args.after)],
            env=client_env, stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "client.err"), "w"),  # noqa: SIM115
            text=True)
        lines: list[str] = []
        got = threading.Condition()

        def read() -> None:
            assert client_proc is not None and client_proc.stdout is not None
            for line in client_proc.stdout:
                with got:
                    lines.append(line.strip())
                    got.notify_all()

        threading.Thread(target=read, daemon=True).start()

        def expect(prefix: str, timeout: float) -> str:
            deadline = time.monotonic() + timeout
            with got:
                while True:
                    for line in lines:
                        if line.startswith(prefix):
                            lines.remove(line)
                            return line
                    left = deadline - time.monotonic()
                    if left <= 0 or (client_proc is not None and client_proc.poll() is not None and not lines):
                        err = Path(tmp, "client.err").read_text()
                        raise SystemExit(f"the client did not print {prefix!r} in time:\n{err}")
                    got.wait(min(left, 1.0))

        run_id = expect("run ", 60).split()[1]
        log = Path(store, "outage", run_id, "events.jsonl")
        print(f"client pid {client_proc.pid}, run {run_id}: logging {args.keys} keys at {args.rate:.0f} steps/s; "
              f"the server ({url}) is down for {args.minutes:g} min", flush=True)
        samples: list[tuple[float, float]] = []
        t_start = time.monotonic()
        next_sample = t_start + 2.0  # past init's own allocations
        while not any(line.startswith("phase-over down") for line in lines):
            if client_proc.poll() is not None:
                raise SystemExit("the client exited: " + Path(tmp, "client.err").read_text())
            if time.monotonic() >= next_sample:
                rss = _rss_mib(client_proc.pid)
                if rss is not None:
                    samples.append((time.monotonic() - t_start, rss))
                    if len(samples) % 12 == 1:
                        print(f"  {samples[-1][0]:6.0f} s  RSS {rss:6.1f} MiB", flush=True)
                next_sample += args.sample
            time.sleep(0.2)
        expect("phase-over down", 5)
        backlog_seq = _last_seq(log)
        server = _start_server(data, port, env, os.path.join(tmp, "server.log"))
        t_up = time.monotonic()
        reader = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        first_ack: float | None = None
        first_seq = 0
        caught_up: float | None = None
        while time.monotonic() - t_up < args.after:
            seq = _server_seq(reader, run_id)
            if seq and first_ack is None:
                first_ack, first_seq = time.monotonic(), seq
            if seq >= backlog_seq:
                caught_up = time.monotonic()
                break
            rss = _rss_mib(client_proc.pid)
            if rss is not None:
                samples.append((time.monotonic() - t_start, rss))
            time.sleep(0.05)
        result = json.loads(expect("result ", args.after + 300).split(" ", 1)[1])
        client_proc.wait(60)
        local_last = _last_seq(log)
        server_last = _server_seq(reader, run_id)
        reader.close()
        ingest = _ingest_speed(url, key, args.keys, batches=20, steps_per_batch=4000)

        backlog_points = None
        if first_ack is not None and caught_up is not None:
            records = [orjson.loads(line) for line in log.read_bytes().split(b"\n")[:-1] if line]
            backlog_points = sum(len(r.get("data", {})) for r in records
                                 if r.get("type") == "log" and first_seq < r["seq"] <= backlog_seq)
        rss = [value for _, value in samples]
        down_rss = [value for t, value in samples if t <= outage + 2]
        print()
        print(f"server down {args.minutes:g} min, client logging {args.keys} keys at {args.rate:.0f} steps/s "
              f"({result['steps']} steps in all; backlog at restart: seq {backlog_seq})")
        for phase, stats in result["latency"].items():
            print(f"log() while {phase:9}: median {stats['median'] * 1e6:6.2f} us   p99 {stats['p99'] * 1e6:7.2f} us"
                  f"   max {stats['max'] * 1e3:7.2f} ms   ({stats['calls']} calls)")
        print(f"client RSS: first {rss[0]:.1f} MiB, last while down {down_rss[-1]:.1f} MiB, max {max(rss):.1f} MiB "
              f"(while down: max {max(down_rss):.1f}), {len(rss)} samples")
        if first_ack is None or caught_up is None:
            print(f"catch-up: NOT caught up within {args.after:g} s of the server's start")
        else:
            took = caught_up - first_ack
            rate = backlog_points / took if backlog_points and took > 0 else float("nan")
            print(f"server start -> first acknowledged batch: {first_ack - t_up:.1f} s (the uploader's backoff)")
            if first_seq >= backlog_seq:
                print(f"catch-up: the whole backlog in the first batch; the server's ingest: {ingest:,.0f} points/s")
            else:
                print(
                    f"catch-up: {backlog_points} points (seq {first_seq} -> {backlog_seq}) in {took:.2f} s = "
                    f"{rate:,.0f} points/s; the server's ingest, one client in gzip batches of 4,000 records: "
                    f"{ingest:,.0f} points/s (ratio {rate / ingest:.2f})")
        print(f"finish(): {result['finish']:.2f} s; server seq {server_last} vs local {local_last}: "
              f"{'exact' if server_last == local_last else 'MISMATCH'}")
        growth = down_rss[-1] - down_rss[0]
        print(f"memory while down: {'flat' if growth < 5.0 else 'GROWING'} ({growth:+.1f} MiB first to last)")
        return 0 if server_last == local_last and growth < 5.0 else 1
    finally:
        if client_proc is not None and client_proc.poll() is None:
            client_proc.kill()
        if server is not None:
            server.terminate()
            server.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

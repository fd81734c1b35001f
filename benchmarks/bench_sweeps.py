"""Sweep controller cost per trial with 8 agents, on one machine (the local store's sweep) and against a real team
server process, beside Optuna used directly on the same storage.

Each of ``--agents`` processes (default 8) runs ``--trials`` in-process trials of one random sweep at once. Locally
they share ``<store>/.sweeps/``; against the server (``python -m tracker_server`` on SQLite, or ``--db`` PostgreSQL,
``--workers`` processes, default 2 as in bench_server.py) each agent has its own store, as on its own machine,
claims and ends trials over HTTP, and its trial runs are online runs streamed to the server. Per trial it records:

- ``ask``: ``next_trial()``, the claim (locally one SQLite transaction; a random trial without hyperband is no
  Optuna trial, a bayes or hyperband one is created there too; on the server one HTTP request);
- ``start``: from the trial's function being called to its first record written (``init()`` + first ``log()``);
- ``controller``: ask + start; ``... + end``: with the end of the trial recorded (``end_trial``: the trials
  table, and Optuna's tell for an Optuna trial);
- ``trial wall``: the whole agent loop per trial (the trial's function does nothing but init, one log, finish).

Beside the local sweep, the same number of processes use Optuna directly on the same kind of storage (RDB on
SQLite, a study of its own): ``ask`` + ``report`` + ``tell`` per trial, nothing else: the floor an agent built on
Optuna pays.

Budget (issue 17): controller time per trial (ask + start + first record) <= 50 ms median with 8 agents.

Run:  python benchmarks/bench_sweeps.py [--agents 8] [--trials 25] [--only local|server] [--workers 2]
          [--db postgresql://postgres@127.0.0.1:5432/bench_sweeps]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

from _common import median, quartiles, table, verdict

CHILD_AGENT = """
import json, sys, time
import tracker_core
from tracker_core.sweeps._agent import run_agent

sweep_id, count = sys.argv[1], int(sys.argv[2])
ctl = tracker_core.controller(sweep_id)
asks, ends, starts, walls = [], [], [], []
next_trial, end_trial = ctl.next_trial, ctl.end_trial

def timed_next():
    t0 = time.perf_counter(); claim = next_trial(); asks.append(time.perf_counter() - t0); return claim

def timed_end(*args):
    t0 = time.perf_counter(); end_trial(*args); ends.append(time.perf_counter() - t0)

ctl.next_trial, ctl.end_trial = timed_next, timed_end

def train():
    t0 = time.perf_counter()
    run = tracker_core.init()
    run.log({"loss": run.config.x})
    starts.append(time.perf_counter() - t0)
    run.finish()

print("READY", flush=True)
sys.stdin.readline()  # every agent starts together
t0 = time.perf_counter()
ran = run_agent(ctl, train, count, 30.0)
total = time.perf_counter() - t0
print("RESULT", json.dumps({"ask": asks[:ran], "start": starts, "end": ends, "wall": total / max(ran, 1)}))
"""

CHILD_OPTUNA = """
import json, sys, time
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
storage = optuna.storages.RDBStorage(sys.argv[1], engine_kwargs={"connect_args": {"timeout": 60}})
study = optuna.load_study(study_name=sys.argv[2], storage=storage, sampler=optuna.samplers.RandomSampler())
count = int(sys.argv[3])
dist = optuna.distributions.FloatDistribution(0.0, 1.0)
print("READY", flush=True)
sys.stdin.readline()
times = []
for _ in range(count):
    t0 = time.perf_counter()
    trial = study.ask({"x": dist})
    trial.report(trial.params["x"], 1)
    study.tell(trial, trial.params["x"])
    times.append(time.perf_counter() - t0)
print("RESULT", json.dumps({"trial": times}))
"""


def _go(procs: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    """Wait for every process to be READY, start them together, and collect their RESULT lines."""
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("READY")
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        line = next(ln for ln in out.splitlines() if ln.startswith("RESULT"))
        results.append(json.loads(line.split(" ", 1)[1]))
    return results


_CONFIG = {"method": "random", "metric": {"name": "loss"}, "parameters": {"x": {"min": 0.0, "max": 1.0}}}
MS = 1000.0


def _row(name: str, values: list[float]) -> list[str]:
    low, high = quartiles(values)
    return [name, f"{median(values) * MS:.1f}", f"{low * MS:.1f}-{high * MS:.1f}", str(len(values))]


def _agents(tmp: str, sweep: str, options: argparse.Namespace, env_of: Any) -> list[dict[str, Any]]:
    child = os.path.join(tmp, "agent.py")
    with open(child, "w") as file:
        file.write(CHILD_AGENT)
    return _together_each([([sys.executable, child, sweep, str(options.trials)], env_of(i))
                           for i in range(options.agents)])


def _together_each(commands: list[tuple[list[str], dict[str, str]]]) -> list[dict[str, Any]]:
    procs = [subprocess.Popen(c, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
             for c, env in commands]
    return _go(procs)


def _together(commands: list[list[str]], env: dict[str, str]) -> list[dict[str, Any]]:
    return _together_each([(c, env) for c in commands])


def _report(title: str, results: list[dict[str, Any]], floor: list[float] | None) -> float:
    """Print the per-trial table; returns the controller median (ms)."""
    asks = [v for r in results for v in r["ask"]]
    starts = [v for r in results for v in r["start"]]
    ends = [v for r in results for v in r["end"]]
    controller = [a + s for r in results for a, s in zip(r["ask"], r["start"], strict=False)]
    with_end = [a + s + e for r in results for a, s, e in zip(r["ask"], r["start"], r["end"], strict=False)]
    walls = [r["wall"] for r in results]
    rows = [_row("ask (claim, next_trial)", asks), _row("start (init + first log)", starts),
            _row("end (end_trial)", ends), _row("controller: ask + start + first record", controller),
            _row("  ... + end", with_end), _row("agent loop wall per trial", walls)]
    if floor is not None:
        rows.append(_row("Optuna directly: ask + report + tell", floor))
    print(title)
    print(table(["per trial", "median ms", "IQR ms", "n"], rows))
    if floor is not None:
        print(f"agent (ask + start + end) / Optuna directly: {median(with_end) / median(floor):.1f}x")
    return median(controller) * MS


def _local(options: argparse.Namespace) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TRACKER_DIR": os.path.join(tmp, "store"), "TRACKER_SILENT": "true",
               "TRACKER_CONSOLE": "off", "TRACKER_SYSTEM_INTERVAL": "0"}
        for name in ("TRACKER_SERVER", "TRACKER_API_KEY"):
            env.pop(name, None)
        import optuna

        import tracker_core
        from tracker_core.sweeps._store import SweepStore

        sweep_id = tracker_core.sweep(sweep=_CONFIG, project="bench", dir=env["TRACKER_DIR"])
        results = _agents(tmp, sweep_id, options, lambda _: env)
        url = SweepStore(env["TRACKER_DIR"]).optuna_url
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        optuna.create_study(study_name="direct", storage=url)
        child = os.path.join(tmp, "direct_optuna.py")
        with open(child, "w") as file:
            file.write(CHILD_OPTUNA)
        direct = _together([[sys.executable, child, url, "direct", str(options.trials)]] * options.agents, env)
    floor = [v for r in direct for v in r["trial"]]
    return _report(f"{options.agents} agent processes x {options.trials} trials, one local random sweep (SQLite)",
                   results, floor)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server(options: argparse.Namespace) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "server")
        storage = ["--data", data, *(["--db", options.db] if options.db else [])]
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "WANDB_"))}
        log = open(os.path.join(tmp, "server.log"), "wb")  # noqa: SIM115 - open while the server runs
        server = subprocess.Popen([sys.executable, "-m", "tracker_server", *storage, "--port", str(port),
                                   "--workers", str(options.workers)],
                                  stdout=log, stderr=subprocess.STDOUT, env=base, start_new_session=True)
        try:
            _wait_healthy(url, server)
            made = subprocess.run([sys.executable, "-m", "tracker_server", "keys", "create", "--team", "bench",
                                   "--name", "agents", "--role", "member", *storage], capture_output=True,
                                  text=True, timeout=120, env=base, check=True)
            key = made.stdout.strip().split()[-1]

            def env_of(i: int) -> dict[str, str]:  # each agent a machine of its own: its own store
                return {**base, "TRACKER_SERVER": url, "TRACKER_API_KEY": key, "TRACKER_SILENT": "true",
                        "TRACKER_CONSOLE": "off", "TRACKER_SYSTEM_INTERVAL": "0",
                        "TRACKER_DIR": os.path.join(tmp, f"agent-{i}")}

            made = subprocess.run([sys.executable, "-c", "import json, sys, tracker_core; print(tracker_core.sweep("
                                   "sweep=json.loads(sys.argv[1]), project='bench'))", json.dumps(_CONFIG)],
                                  capture_output=True, text=True, timeout=120, env=env_of(0), check=True)
            sweep = made.stdout.strip().splitlines()[-1]
            results = _agents(tmp, sweep, options, env_of)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
    engine = "PostgreSQL" if options.db else "SQLite"
    return _report(f"{options.agents} agent processes x {options.trials} trials, one team-server random sweep "
                   f"(a real server process on {engine}, over HTTP)", results, None)


def _wait_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not answer")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--trials", type=int, default=25, help="trials per agent")
    parser.add_argument("--only", choices=["local", "server"], help="one path (default: both)")
    parser.add_argument("--db", help="the team server's PostgreSQL URL (default: its embedded SQLite)")
    parser.add_argument("--workers", type=int, default=2, help="the team server's worker processes (default 2)")
    options = parser.parse_args()
    found = {}
    if options.only in (None, "local"):
        found["local"] = _local(options)
    if options.only in (None, "server"):
        if found:
            print()
        found["team server"] = _server(options)
    for where, value in found.items():
        print(f"budget ({where}): controller time per trial (ask + start + first record) <= 50 ms median: "
              f"{value:.1f} ms, {verdict(value <= 50.0)}")


if __name__ == "__main__":
    main()

"""Sweep controller cost per trial with 8 agents on one machine, beside Optuna used directly on the same storage.

Each of ``--agents`` processes (default 8) runs ``--trials`` in-process trials of one local random sweep at once
(all sharing ``<store>/.sweeps/``). Per trial it records:

- ``ask``: ``next_trial()``, the claim (one SQLite transaction, with the Optuna trial created inside);
- ``start``: from the trial's function being called to its first record written (``init()`` + first ``log()``);
- ``controller``: ask + start + the end of the trial recorded (``end_trial``: the trials table and Optuna's tell);
- ``trial wall``: the whole agent loop per trial (the trial's function does nothing but init, one log, finish).

Beside it, the same number of processes use Optuna directly on the same kind of storage (RDB on SQLite, a study
of its own): ``ask`` + ``report`` + ``tell`` per trial, nothing else: the floor an agent built on Optuna pays.

Budget (issue 17): controller time per trial (ask + start + first record) <= 50 ms median with 8 agents.

Run:  python benchmarks/bench_sweeps.py [--agents 8] [--trials 25]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

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


def _together(commands: list[list[str]], env: dict[str, str]) -> list[dict[str, list[float]]]:
    procs = [subprocess.Popen(c, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
             for c in commands]
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--trials", type=int, default=25, help="trials per agent")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TRACKER_DIR": os.path.join(tmp, "store"), "TRACKER_SILENT": "true",
               "TRACKER_CONSOLE": "off", "TRACKER_SYSTEM_INTERVAL": "0"}
        os.environ.update(env)
        import optuna

        import tracker_core
        from tracker_core.sweeps._store import SweepStore

        sweep_id = tracker_core.sweep(sweep={"method": "random", "metric": {"name": "loss"},
                                             "parameters": {"x": {"min": 0.0, "max": 1.0}}}, project="bench")
        child = os.path.join(tmp, "agent.py")
        with open(child, "w") as file:
            file.write(CHILD_AGENT)
        results = _together([[sys.executable, child, sweep_id, str(options.trials)]] * options.agents, env)
        url = SweepStore(env["TRACKER_DIR"]).optuna_url
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        optuna.create_study(study_name="direct", storage=url)
        child = os.path.join(tmp, "direct_optuna.py")
        with open(child, "w") as file:
            file.write(CHILD_OPTUNA)
        direct = _together([[sys.executable, child, url, "direct", str(options.trials)]] * options.agents, env)

    asks = [v for r in results for v in r["ask"]]
    starts = [v for r in results for v in r["start"]]
    ends = [v for r in results for v in r["end"]]
    controller = [a + s for r in results for a, s in zip(r["ask"], r["start"], strict=False)]
    with_end = [a + s + e for r in results for a, s, e in zip(r["ask"], r["start"], r["end"], strict=False)]
    walls = [r["wall"] for r in results]
    floor = [v for r in direct for v in r["trial"]]
    ms = 1000.0

    def row(name: str, values: list[float]) -> list[str]:
        low, high = quartiles(values)
        return [name, f"{median(values) * ms:.1f}", f"{low * ms:.1f}-{high * ms:.1f}", str(len(values))]

    print(f"{options.agents} agent processes x {options.trials} trials, one local random sweep (SQLite)")
    print(table(["per trial", "median ms", "IQR ms", "n"], [
        row("ask (claim, next_trial)", asks),
        row("start (init + first log)", starts),
        row("end (end_trial)", ends),
        row("controller: ask + start + first record", controller),
        row("  ... + end", with_end),
        row("agent loop wall per trial", walls),
        row("Optuna directly: ask + report + tell", floor),
    ]))
    ratio = median(with_end) / median(floor)
    print(f"agent (ask + start + end) / Optuna directly: {ratio:.1f}x")
    print(f"budget: controller time per trial (ask + start + first record) <= 50 ms median: "
          f"{verdict(median(controller) * ms <= 50.0)}")


if __name__ == "__main__":
    main()

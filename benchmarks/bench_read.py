"""Reading runs back: listing 10,000 runs sorted by a summary metric, and the history of a 10^6-row run.

Budgets (issue "Reading runs back"): listing 10,000 runs and sorting by a summary metric
< 1 s (with the per-project index in place); ``history()`` of a 10^6-row run < 2 s.

The store is made by real runs (``init``/``log``/``finish``) in a folder that is kept
between invocations (``--store``, default ``/tmp/tracker-bench-read``), because making
10,000 runs takes a minute. Medians of ``--repeat`` timings; the cold listing (no index,
every log replayed) is reported beside the warm one.

Run:  python benchmarks/bench_read.py [--runs 10000] [--rows 1000000] [--repeat 5] [--store DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time

from _common import median, table, verdict

import tracker_core
from tracker_core.store._index import INDEX_NAME

LIST_BUDGET_S, HISTORY_BUDGET_S = 1.0, 2.0


def make_runs(root: str, count: int) -> None:
    """``count`` small runs in project ``sweep``: 20 steps each, a config and a val/accuracy summary."""
    existing = len(os.listdir(os.path.join(root, "sweep"))) if os.path.isdir(os.path.join(root, "sweep")) else 0
    rng = random.Random(existing)
    started = time.perf_counter()
    for n in range(existing, count):
        run = tracker_core.init(project="sweep", dir=root, config={"lr": rng.choice([1e-4, 3e-4, 1e-3]),
                                "batch": rng.choice([32, 64]), "seed": n}, tags=[f"phase-{n % 3}"],
                                console="off", silent=True, provenance_exclude=["all"])
        run.define_metric("val/accuracy", summary="max")
        for step in range(20):
            run.log({"train/loss": rng.random(), "val/accuracy": rng.random()}, step=step)
        run.finish()
        if (n + 1) % 1000 == 0:
            print(f"  made {n + 1} runs ({time.perf_counter() - started:.0f} s)", flush=True)


def make_long_run(root: str, rows: int) -> str:
    """One run with ``rows`` steps of 4 scalars; returns its path."""
    marker = os.path.join(root, f"long-{rows}.path")
    if os.path.exists(marker):
        with open(marker) as handle:
            return handle.read().strip()
    run = tracker_core.init(project="long", dir=root, console="off", silent=True, provenance_exclude=["all"])
    for step in range(rows):
        run.log({"train/loss": 1.0 / (step + 1), "train/acc": step / rows, "train/lr": 3e-4, "epoch": step // 1000},
                step=step)
    run.finish()
    with open(marker, "w") as handle:
        handle.write(run.path)
    return run.path


def timed(action: object, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--store", default="/tmp/tracker-bench-read")
    args = parser.parse_args()
    root = os.path.abspath(args.store)
    print(f"store {root}; making what is missing (real runs)")
    make_runs(root, args.runs)
    long_path = make_long_run(root, args.rows)
    api = tracker_core.Api(root)
    index = os.path.join(root, "sweep", INDEX_NAME)

    def cold_listing() -> None:
        if os.path.exists(index):
            os.remove(index)
        api.runs("sweep", order="-summary.val/accuracy")

    def warm_listing() -> None:
        listed = api.runs("sweep", order="-summary.val/accuracy")
        assert len(listed) == args.runs, len(listed)

    cold = timed(cold_listing, 1)
    warm = timed(warm_listing, args.repeat)
    filtered = timed(lambda: api.runs("sweep", filters=["config.lr<5e-4", "tags=phase-1"],
                                      order="-summary.val/accuracy"), args.repeat)
    tracker_cli = [sys.executable, "-m", "tracker_core.cli", "--dir", root, "runs", "-p", "sweep",
                   "--sort", "-summary.val/accuracy", "-n", "10"]
    cli = timed(lambda: subprocess.run(tracker_cli, check=True, capture_output=True), args.repeat)
    best_cli = [sys.executable, "-m", "tracker_core.cli", "--dir", root, "best", "val/accuracy", "--goal", "max",
                "-p", "sweep"]
    best = timed(lambda: subprocess.run(best_cli, check=True, capture_output=True), args.repeat)
    history = timed(lambda: api.run(long_path).history(), args.repeat)
    history_keys = timed(lambda: api.run(long_path).history(keys=["train/loss"]), args.repeat)

    rows = [
        [f"list {args.runs} runs sorted, index missing (cold)", f"{median(cold):.3f}", "-", "-"],
        [f"list {args.runs} runs sorted, index fresh", f"{median(warm):.3f}", f"< {LIST_BUDGET_S:g}",
         verdict(median(warm) < LIST_BUDGET_S)],
        ["  ... with 2 filters", f"{median(filtered):.3f}", "-", "-"],
        ["`tracker runs --sort` (whole process)", f"{median(cli):.3f}", "-", "-"],
        ["`tracker best` (whole process)", f"{median(best):.3f}", "-", "-"],
        [f"history() of {args.rows} rows", f"{median(history):.3f}", f"< {HISTORY_BUDGET_S:g}",
         verdict(median(history) < HISTORY_BUDGET_S)],
        [f"history(keys=[1 key]) of {args.rows} rows", f"{median(history_keys):.3f}", "-", "-"],
    ]
    print(table(["what (median seconds)", "s", "budget", "verdict"], rows))
    ok = median(warm) < LIST_BUDGET_S and median(history) < HISTORY_BUDGET_S
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

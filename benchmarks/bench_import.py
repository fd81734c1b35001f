"""Importing runs from other trackers: how long `tracker import` takes, beside the source tool's own read.

Budgets (issue "Import and export with W&B, MLflow and TensorBoard"): a W&B run with 10^6 history
rows imported in <= 10 s.

Each source is one function, ``bench_<source>(args)``; ``main`` runs those named by ``--source``
(default: all). Medians of ``--repeat`` timings, wall clock and CPU time of this process and its
child processes (the W&B import reads the second half of a large file in a forked child; the
machines these run on are shared: CPU time says what the work costs, wall time what a user waits).

wandb: the run is written once by the wandb package itself (offline, 4 scalars a row, ~7 min for
10^6 rows) into ``--cache`` and kept there. Beside our import: the wandb package's own read time.
wandb 0.31 ships no reader of ``.wandb`` files (its ``DataStore`` is gone; ``wandb sync`` uploads
and needs a server), so its fastest read is its protobuf ``Record`` parse of every record, over the
same framing (block and CRC reading) that the importer uses; the framing alone is the floor.

Run:  python benchmarks/bench_import.py [--source wandb] [--rows 1000000] [--repeat 3] [--cache DIR]
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from _common import median, offline_env, table, verdict

WANDB_BUDGET_S = 10.0

_WANDB_WRITER = r'''
import sys, wandb
rows = int(sys.argv[1])
run = wandb.init(mode="offline", dir=sys.argv[2], id=f"bench{rows}", project="bench",
                 settings=wandb.Settings(console="off", x_disable_stats=True, silent=True))
for step in range(rows):
    run.log({"train/loss": 1.0 / (step + 1), "train/acc": step / rows, "train/lr": 3e-4,
             "epoch": step // 1000}, step=step)
run.finish()
'''


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (the import's forked reader)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds (with child processes) of ``fn`` over ``repeat`` calls."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), _cpu()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu() - cpu)
    return median(walls), median(cpus)


def _wandb_run(cache: str, rows: int) -> str:
    """The folder of a W&B offline run with ``rows`` history rows, written by wandb once and kept."""
    found = sorted(glob.glob(os.path.join(cache, f"wandb-{rows}", "wandb", f"offline-run-*-bench{rows}")))
    if found and os.path.exists(os.path.join(cache, f"wandb-{rows}", "complete")):
        return found[-1]
    folder = os.path.join(cache, f"wandb-{rows}")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    print(f"writing a W&B offline run of {rows:,} rows with wandb (once; kept in {folder}) ...", flush=True)
    started = time.perf_counter()
    env = {**os.environ, **offline_env(os.path.join(folder, "sandbox"))}
    subprocess.run([sys.executable, "-c", _WANDB_WRITER, str(rows), folder], env=env, check=True,
                   timeout=3 * 3600)
    print(f"  written in {time.perf_counter() - started:.0f} s", flush=True)
    open(os.path.join(folder, "complete"), "w").close()
    (run,) = glob.glob(os.path.join(folder, "wandb", f"offline-run-*-bench{rows}"))
    return run


def bench_wandb(args: argparse.Namespace) -> bool:
    """`tracker import wandb` of one run with ``--rows`` rows, against wandb's own parse of its records."""
    from tracker_core.migrate import Fidelity, import_wandb, read_wandb_records
    from tracker_core.migrate._wandb_proto import wandb_records

    run = _wandb_run(args.cache, args.rows)
    (path,) = glob.glob(os.path.join(run, "run-*.wandb"))
    pb = wandb_records("bench_import")  # imported before timing: `import wandb` is not the import's cost

    def framing() -> None:
        for _ in read_wandb_records(path, Fidelity("W&B", "bench")):
            pass

    def wandb_parse() -> None:
        record_class = pb.Record
        for payload in read_wandb_records(path, Fidelity("W&B", "bench")):
            record_class().ParseFromString(payload)

    def ours() -> None:
        with tempfile.TemporaryDirectory(prefix="bench-import-") as root:
            fidelity = import_wandb(run, root, progress=lambda _: None)
            assert fidelity.moved["runs"] == 1 and not fidelity.errors, fidelity.render()

    size = os.path.getsize(path)
    records = sum(1 for _ in read_wandb_records(path, Fidelity("W&B", "bench")))
    print(f"\nW&B run: {args.rows:,} rows, {records:,} records, {size / 2**20:,.0f} MiB ({path})")
    floor = _timed(framing, args.repeat)
    peer = _timed(wandb_parse, args.repeat)
    mine = _timed(ours, args.repeat)
    rows = [["framing only (blocks, CRC-32): the floor", f"{floor[0]:.2f}", f"{floor[1]:.2f}", "1.00"],
            ["wandb: protobuf Record parse of every record", f"{peer[0]:.2f}", f"{peer[1]:.2f}",
             f"{peer[0] / floor[0]:.2f}"],
            ["tracker import wandb (to a fresh store)", f"{mine[0]:.2f}", f"{mine[1]:.2f}",
             f"{mine[0] / floor[0]:.2f}"]]
    print(table(["what", "wall s (median)", "cpu s (median, with children)", "wall / floor"], rows))
    if args.rows != 1_000_000:
        print(f"(the budget is for 10^6 rows; this run had {args.rows:,}: {mine[0] / args.rows * 1e6:.1f} us a row)")
        return True
    ok = mine[0] <= WANDB_BUDGET_S
    print(f"{verdict(ok)}  import of {args.rows:,} rows: {mine[0]:.2f} s wall (budget {WANDB_BUDGET_S:.0f} s), "
          f"{mine[0] / peer[0]:.1f}x wandb's own parse")
    return ok


SOURCES: dict[str, Callable[[argparse.Namespace], bool]] = {"wandb": bench_wandb}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", action="append", choices=sorted(SOURCES), help="repeatable; default: all")
    parser.add_argument("--rows", type=int, default=1_000_000, help="W&B: history rows of the run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "tracker-bench-import"),
                        help="where the source runs are made once and kept")
    args = parser.parse_args()
    results = [SOURCES[name](args) for name in (args.source or sorted(SOURCES))]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

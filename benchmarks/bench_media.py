"""Caller-thread cost of logging media: tracker_core against wandb offline, and where the time goes.

Everything runs in ONE process, in interleaved rounds (the order is shuffled each round, round 0
is a discarded warm-up); each round times a batch of calls per contender and the figure reported
is the median over rounds of the per-call time. Inputs are made before each batch, outside the
timing; building the media value is inside it (the caller pays for it):

- image, new: ``run.log({"img": Image(arr)})``, a new random 64x64 RGB uint8 array each call
- image, same: the same array every call (tracker_core writes its file once: deduplicated)
- table: ``run.log({"table": Table(columns=5 names, data=100 rows)})`` of (str, str, float, bool, float),
  new floats each call
- figure: ``run.log({"fig": Image(fig)})`` of a 4x3 in, 100 dpi line plot of 100 points; creating
  the figure is not timed, rendering it to PNG is (it must happen on the caller's thread)

wandb (offline, when installed) logs the same with ``wandb.Image`` / ``wandb.Table``; only its
caller-thread cost is timed, while its ``wandb-core`` process writes the records in the
background (each batch is followed by ``--settle`` seconds of idle so it drains). Parts of
tracker_core's path are timed alone: ``Image(arr)``, ``Image(arr).encode()`` (copy, PNG, sha256;
also of the repeated array), ``zlib.compress`` of the pixels, ``Table(...).encode()``, ``fig.savefig``
to PNG. Bytes written is the growth of the run's media folder per call. There is no budget: a
verdict line says where the time goes. All files go to a temporary folder that is deleted;
nothing touches the network.

Run:  python benchmarks/bench_media.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import random
import shutil
import sys
import tempfile
import time
import warnings
import zlib
from collections.abc import Callable
from typing import Any

from _common import installed, median, quartiles, table, use_offline_env

COLUMNS = ["id", "label", "score", "correct", "loss"]
CASES = ("image, new", "image, same", "table 100x5", "figure")
BATCH = {"image, new": (200, 50), "image, same": (200, 50), "table 100x5": (50, 15), "figure": (5, 3)}
WANDB_BATCH = {"image, new": (20, 8), "image, same": (20, 8), "table 100x5": (10, 4), "figure": (5, 3)}


def media_bytes(folder: str | None) -> int:
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(folder or "") for name in names)


def make_inputs(case: str, n: int, rng: Any, same: Any) -> list[Any]:
    """The arguments of one batch: arrays, row lists or figures (made here, not timed)."""
    if case == "image, new":
        return list(rng.integers(0, 256, (n, 64, 64, 3), dtype="uint8"))
    if case == "image, same":
        return [same] * n
    if case == "table 100x5":
        return [[[f"sample-{i}", ("cat", "dog", "bird")[i % 3], float(s), bool(s > 0.5), float(x)]
                 for i, (s, x) in enumerate(rng.random((100, 2)))] for _ in range(n)]
    import matplotlib.pyplot as plt

    figures = []
    for _ in range(n):
        figure, axes = plt.subplots(figsize=(4, 3), dpi=100)
        axes.plot(range(100), rng.random(100))
        figures.append(figure)
    return figures


def contenders(tmp: str) -> tuple[list[dict[str, Any]], list[Callable[[], None]]]:
    import tracker_core
    from tracker_core import Image, Table

    run = tracker_core.init(project="bench", dir=os.path.join(tmp, "tracker"), console="off", silent=True)
    media = os.path.join(run.dir or "", "media")

    def savefig(figure: Any) -> None:
        figure.savefig(io.BytesIO(), format="png", metadata={"Software": None})

    found = [  # library, case, what, call(input), media folder (None: no run)
        ("tracker_core", "image, new", "run.log(Image(arr))", lambda a: run.log({"img": Image(a)}), media),
        ("tracker_core", "image, same", "run.log(Image(arr))", lambda a: run.log({"img_same": Image(a)}), media),
        ("tracker_core", "table 100x5", "run.log(Table(...))",
         lambda rows: run.log({"table": Table(columns=COLUMNS, data=rows)}), media),
        ("tracker_core", "figure", "run.log(Image(fig))", lambda fig: run.log({"fig": Image(fig)}), media),
        ("part", "image, new", "Image(arr)", Image, None),
        ("part", "image, new", "Image(arr).encode()", lambda a: Image(a).encode(), None),
        ("part", "image, same", "Image(same).encode()", lambda a: Image(a).encode(), None),
        ("part", "image, new", "zlib.compress(pixels, 6)", lambda a: zlib.compress(a.tobytes(), 6), None),
        ("part", "table 100x5", "Table(...).encode()", lambda rows: Table(columns=COLUMNS, data=rows).encode(), None),
        ("part", "figure", "fig.savefig(png)", savefig, None),
    ]
    closers = [run.finish]
    if installed("wandb"):
        import wandb

        wrun = wandb.init(project="bench", mode="offline", dir=os.environ["WANDB_DIR"],
                          settings=wandb.Settings(console="off", silent=True))
        wmedia = os.path.join(wrun.dir, "media")
        found += [
            ("wandb offline", "image, new", "run.log(wandb.Image(arr))", lambda a: wrun.log({"img": wandb.Image(a)}),
             wmedia),
            ("wandb offline", "image, same", "run.log(wandb.Image(arr))",
             lambda a: wrun.log({"img_same": wandb.Image(a)}), wmedia),
            ("wandb offline", "table 100x5", "run.log(wandb.Table(...))",
             lambda rows: wrun.log({"table": wandb.Table(columns=COLUMNS, data=rows)}), wmedia),
            ("wandb offline", "figure", "run.log(wandb.Image(fig))", lambda fig: wrun.log({"fig": wandb.Image(fig)}),
             wmedia),
        ]
        closers.append(wrun.finish)
    out = [{"library": library, "case": case, "what": what, "call": call, "media": folder, "us": [], "bytes": 0,
            "calls": 0, "batch": (WANDB_BATCH if library.startswith("wandb") else BATCH)[case]}
           for library, case, what, call, folder in found]
    return out, closers


def show(us: float) -> str:
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.1f} us"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and smaller batches")
    parser.add_argument("--rounds", type=int, help="timed rounds (default 21, quick 7)")
    parser.add_argument("--settle", type=float, default=0.1,
                        help="seconds of idle after each batch, so wandb's background process drains")
    args = parser.parse_args()
    rounds = args.rounds or (7 if args.quick else 21)
    tmp = tempfile.mkdtemp(prefix="bench_media_")
    use_offline_env(tmp)
    warnings.simplefilter("ignore")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np

        rng = np.random.default_rng(0)
        same = rng.integers(0, 256, (64, 64, 3), dtype="uint8")
        active, closers = contenders(tmp)
        gc.collect()
        gc.freeze()  # the imports leave a big heap: keep it out of the collections timed below
        print(f"bench_media: {rounds} rounds, python {sys.version.split()[0]}, {os.cpu_count()} CPUs", flush=True)
        for round_no in range(rounds + 1):  # round 0 warms up and is discarded
            random.shuffle(active)
            for c in active:
                n = c["batch"][1 if args.quick else 0]
                inputs, call = make_inputs(c["case"], n, rng, same), c["call"]
                before = media_bytes(c["media"])
                gc.collect()
                t0 = time.perf_counter_ns()
                for value in inputs:
                    call(value)
                elapsed = time.perf_counter_ns() - t0
                if round_no:
                    c["us"].append(elapsed / n / 1000)
                    c["bytes"] += media_bytes(c["media"]) - before
                    c["calls"] += n
                del inputs
                plt.close("all")
                time.sleep(args.settle)
        for close in closers:
            close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    mid = {(c["library"], c["what"] if c["library"] == "part" else c["case"]): median(c["us"]) for c in active}
    rows = []
    for case in CASES:
        for c in sorted((c for c in active if c["case"] == case), key=lambda c: ("t", "p", "w").index(c["library"][0])):
            ours = mid["tracker_core", case]
            m, (q1, q3) = median(c["us"]), quartiles(c["us"])
            ratio = f"{m / ours:.0%} of it" if c["library"] == "part" else f"{m / ours:.2f}x"
            written = f"{c['bytes'] / c['calls']:.0f}" if c["media"] else ""
            rows.append([f"{case}: {c['library']}", c["what"], show(m), f"{show(q1)} - {show(q3)}", ratio, written,
                         c["calls"]])
    print()
    print(table(["media log()", "call", "median/call", "IQR", "/ tracker_core", "media bytes/call", "calls timed"],
                rows))
    if not installed("wandb"):
        print("wandb offline: not installed")
    new, same_us = mid["tracker_core", "image, new"], mid["tracker_core", "image, same"]
    encode, compress = mid["part", "Image(arr).encode()"], mid["part", "zlib.compress(pixels, 6)"]
    same_encode = mid["part", "Image(same).encode()"]
    table_us, table_enc = mid["tracker_core", "table 100x5"], mid["part", "Table(...).encode()"]
    fig, render = mid["tracker_core", "figure"], mid["part", "fig.savefig(png)"]
    print(f"\nverdict (no budget given): a new 64x64 image costs {show(new)} on the caller's thread: "
          f"Image(arr).encode() {show(encode)} ({encode / new:.0%}; zlib alone {compress / new:.0%}), creating its "
          f"file {show(new - same_us)} ({(new - same_us) / new:.0%}; new minus same image), the rest (checks, record) "
          f"~{show(same_us - same_encode)}. A repeated image is still encoded and hashed ({show(same_encode)} of "
          f"{show(same_us)}); only the write is skipped. A 100-row table {show(table_us)} "
          f"({table_enc / table_us:.0%} building + encoding it); "
          f"a figure {show(fig)} ({render / fig:.0%} rendering it).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

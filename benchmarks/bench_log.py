"""Cost of one ``log()`` of 4 scalars at a new step: tracker_core against a floor and the peers.

Everything runs in ONE process, in interleaved rounds (the order is shuffled each round), so
machine noise hits every contender alike. Each round times a batch of calls per contender;
the figure reported is the median over rounds of the per-call time. The heap left by the
peers' imports is frozen out of garbage collection, and each batch is followed by a short
idle (``--settle``) so that background threads and processes of the peers can drain.

- floor: ``os.write(fd, orjson.dumps({"step": i, **row}, option=OPT_APPEND_NEWLINE))`` to an O_APPEND file
- tracker_core: ``run.log(row, step=i)``
- peers, each skipped ("not installed") when missing: wandb (offline) ``run.log``, ``trackio.log``,
  TensorBoard ``SummaryWriter.add_scalar`` x4, Lightning ``CSVLogger.log_metrics`` (and the same
  with the ``save()`` that Lightning's Trainer calls every 100 steps), ``mlflow.log_metrics``
  (sqlite store; fewer calls, it is slow).

With ``--sync``, one more contender: tracker_core streaming online to a real team server
(``python -m tracker_server`` on a free loopback port, SQLite, started and stopped by this script),
its uploader tailing the log while the rounds run (issue "The team server": with sync on, the
median stays <= 2x the floor). Its paired ratio is printed on its own line.

Budget (DESIGN.md, "Performance budgets"): median <= 2x the floor and <= 10 us.
All files go to a temporary folder that is deleted at the end; nothing leaves 127.0.0.1.

Run:  python benchmarks/bench_log.py [--quick] [--rounds N] [--sync]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import logging
import os
import random
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable

from _common import (
    ROW,
    held_on_server,
    installed,
    median,
    quartiles,
    start_team_server,
    table,
    use_offline_env,
    verdict,
)

Setup = Callable[[str], tuple[Callable[[int], None], Callable[[], None]]]


def floor(tmp: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    import orjson

    fd = os.open(os.path.join(tmp, "floor.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    dumps, write, option = orjson.dumps, os.write, orjson.OPT_APPEND_NEWLINE
    return (lambda i: write(fd, dumps({"step": i, **ROW}, option=option))), (lambda: os.close(fd))


def tracker(tmp: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    import tracker_core

    run = tracker_core.init(project="bench", dir=os.path.join(tmp, "tracker"), console="off", silent=True)
    return (lambda i: run.log(ROW, step=i)), run.finish


_SERVER: dict[str, str] = {}  # url and key of the team server started for --sync


def tracker_online(tmp: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    import tracker_core

    wandb_mode = os.environ.pop("WANDB_MODE", None)  # the peers' offline mode; it would win over mode="online"
    try:
        run = tracker_core.init(project="bench", dir=os.path.join(tmp, "tracker-online"), console="off", silent=True,
                                mode="online", server=_SERVER["url"], api_key=_SERVER["key"], entity="bench",
                                reinit="create_new")  # the offline contender stays active
    finally:
        if wandb_mode is not None:
            os.environ["WANDB_MODE"] = wandb_mode
    assert run.settings.mode == "online", run.settings.mode

    def close() -> None:
        """Finish (the uploader sends the rest), then check that the server holds every record."""
        run.finish()
        held, local = held_on_server(_SERVER["url"], _SERVER["key"], run)
        print(f"sync on: the server holds seq {held} of the local log's {local}", flush=True)

    return (lambda i: run.log(ROW, step=i)), close


def wandb_offline(tmp: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    import wandb

    run = wandb.init(project="bench", mode="offline", dir=os.environ["WANDB_DIR"],
                     settings=wandb.Settings(console="off", silent=True))
    return (lambda i: run.log(ROW, step=i)), run.finish


def trackio_local(tmp: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    import trackio

    with contextlib.redirect_stdout(io.StringIO()):
        trackio.init(project="bench", embed=False, auto_log_cpu=False, auto_log_gpu=False)

    def close() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            trackio.finish()

    return (lambda i: trackio.log(ROW, step=i)), close


def tensorboard(tmp: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=os.path.join(tmp, "tb"))
    items = list(ROW.items())

    def log(i: int) -> None:
        for key, value in items:
            writer.add_scalar(key, value, global_step=i)

    return log, writer.close


def _csv_logger(tmp: str, save_every: int) -> tuple[Callable[[int], None], Callable[[], None]]:
    from lightning.pytorch.loggers import CSVLogger

    logger = CSVLogger(os.path.join(tmp, "csv"), name=f"bench{save_every}")

    def log(i: int) -> None:
        logger.log_metrics(ROW, step=i)
        if save_every and i % save_every == 0:
            logger.save()

    return log, lambda: logger.finalize("success")


def lightning_csv(tmp: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    return _csv_logger(tmp, 0)


def lightning_csv_saved(tmp: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    return _csv_logger(tmp, 100)


def mlflow_sqlite(tmp: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    import mlflow

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    mlflow.set_experiment("bench")
    mlflow.start_run()
    return (lambda i: mlflow.log_metrics(ROW, step=i)), mlflow.end_run


# name, modules that must be importable, setup, calls per batch (full, quick), note
CONTENDERS: list[tuple[str, tuple[str, ...], Setup, int, int, str]] = [
    ("floor (orjson + write)", ("orjson",), floor, 2000, 500, ""),
    ("tracker_core", ("tracker_core",), tracker, 2000, 500, ""),
    ("tracker_core, sync on", ("tracker_core", "tracker_server"), tracker_online, 2000, 500,
     "uploader streaming to a team server"),
    ("wandb offline", ("wandb",), wandb_offline, 100, 40, ""),
    ("trackio", ("trackio",), trackio_local, 300, 100, "queued in memory, written by a thread"),
    ("TensorBoard SummaryWriter", ("torch", "tensorboard"), tensorboard, 300, 100, "add_scalar x4"),
    ("Lightning CSVLogger", ("lightning",), lightning_csv, 2000, 500, "buffered in memory, no save()"),
    ("Lightning CSVLogger+save/100", ("lightning",), lightning_csv_saved, 1000, 300, "save() every 100 steps"),
    ("MLflow (sqlite)", ("mlflow",), mlflow_sqlite, 5, 2, ""),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and smaller batches")
    parser.add_argument("--rounds", type=int, help="timed rounds (default 51, quick 11)")
    parser.add_argument("--settle", type=float, default=0.05,
                        help="seconds of idle after each batch, so background threads/processes drain")
    parser.add_argument("--sync", action="store_true", help="also tracker_core streaming to a real team server")
    args = parser.parse_args()
    rounds = args.rounds or (11 if args.quick else 51)
    tmp = tempfile.mkdtemp(prefix="bench_log_")
    use_offline_env(tmp)
    warnings.simplefilter("ignore")
    active, skipped = [], []
    server = None
    try:
        if args.sync:
            server, url, key = start_team_server(tmp)
            _SERVER.update(url=url, key=key)
        for name, modules, setup, batch, quick_batch, note in CONTENDERS:
            if setup is tracker_online and not args.sync:
                skipped.append(name)
                continue
            if not installed(*modules):
                skipped.append(name)
                continue
            log, close = setup(tmp)
            active.append({"name": name, "log": log, "close": close, "n": quick_batch if args.quick else batch,
                           "note": note, "step": 0, "us": []})
        gc.collect()
        gc.freeze()  # the peers' imports leave a big heap: keep it out of the collections timed below
        print(f"bench_log: {rounds} rounds, python {sys.version.split()[0]}, {os.cpu_count()} CPUs", flush=True)
        for round_no in range(rounds + 1):  # round 0 warms up and is discarded
            random.shuffle(active)
            for c in active:
                log, n, start = c["log"], c["n"], c["step"]
                gc.collect()
                t0 = time.perf_counter_ns()
                for i in range(start, start + n):
                    log(i)
                elapsed = time.perf_counter_ns() - t0
                c["step"] = start + n
                if round_no:
                    c["us"].append(elapsed / n / 1000)
                time.sleep(args.settle)
        for c in active:
            c["close"]()
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)

    by_name = {c["name"]: c for c in active}
    floor_us = median(by_name["floor (orjson + write)"]["us"])
    ours_us = median(by_name["tracker_core"]["us"])
    rows = []
    for name, _, setup, *_ in CONTENDERS:
        if name in skipped:
            rows.append([name, "not run (--sync)" if setup is tracker_online else "not installed", "", "", "", "", ""])
            continue
        c = by_name[name]
        mid, (q1, q3) = median(c["us"]), quartiles(c["us"])
        rows.append([name, f"{mid:.2f}", f"{q1:.2f}-{q3:.2f}", f"{mid / floor_us:.2f}x", f"{mid / ours_us:.1f}x",
                     c["step"] - c["n"], c["note"]])
    print()
    print(table(["log() of 4 scalars", "median us", "IQR us", "/ floor", "/ tracker_core", "calls timed", "note"],
                rows))
    paired = median([o / f for o, f in zip(by_name["tracker_core"]["us"], by_name["floor (orjson + write)"]["us"],
                                           strict=True)])
    ok = ours_us <= 2 * floor_us and ours_us <= 10
    print(f"\ntracker_core / floor within the same round (median of {rounds} paired ratios): {paired:.2f}x")
    if "tracker_core, sync on" in by_name:
        online = by_name["tracker_core, sync on"]["us"]
        online_paired = median([o / f for o, f in zip(online, by_name["floor (orjson + write)"]["us"], strict=True)])
        print(f"tracker_core with sync on / floor within the same round: {online_paired:.2f}x "
              f"(median {median(online):.2f} us)")
    print(f"budget: tracker_core median {ours_us:.2f} us <= 2x floor ({2 * floor_us:.2f} us) "
          f"and <= 10 us: {verdict(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Overhead of Lightning loggers on a fixed small ``Trainer.fit``: TrackerLogger vs CSVLogger vs
WandbLogger(offline=True) vs no logger.

The fit: an MLP 32->64->1 (small, so that the loggers' share shows) on synthetic regression data,
batch 32, 4 epochs of 50 steps with a validation pass each epoch, CPU, one thread, no
checkpointing, every step logged (``log_every_n_steps=1``; the module logs 3 metrics per step, one
of them ``on_step`` and ``on_epoch``). Each contender fits in interleaved rounds (shuffled order,
round 0 warms up); the time covers building the logger (a new run each round) and the Trainer, and
``trainer.fit``; finishing the run does not count (it happens after the round, outside the
timing). Peers that are not installed are skipped.

Overhead = median fit time with the logger / median fit time without one - 1, plus the median of
per-round ratios (less sensitive to drift on a noisy machine). Last, each logger's ``log_metrics``
of a 4-value row (what the Trainer hands it every step) is timed alone: median per call.

With ``--sync``, one more contender: ``TrackerLogger`` streaming online to a real team server (one
process over SQLite, started here), its uploader tailing each run's log during the fit; after each
round the run is finished and the server must hold every record of it.

Run:  python benchmarks/bench_lightning.py [--rounds 9] [--epochs 4] [--sync]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

from _common import held_on_server, installed, start_team_server, table, use_offline_env


def contenders(tmp: str, server: tuple[str, str] | None) -> dict[str, tuple[Callable[[], Any], Callable[[], None]]]:
    """name -> (make the logger, finish its run); with ``server`` (URL, key) also ``TrackerLogger`` streaming to it."""
    from lightning.pytorch.loggers import CSVLogger

    import tracker_core
    from integrations.lightning import TrackerLogger

    found: dict[str, tuple[Callable[[], Any], Callable[[], None]]] = {
        "no logger": (lambda: False, lambda: None),
        "TrackerLogger": (lambda: TrackerLogger(project="bench", save_dir=os.path.join(tmp, "tracker"),
                                                console="off", silent=True, system_interval=0),
                          tracker_core.finish),
        "CSVLogger": (lambda: CSVLogger(os.path.join(tmp, "csv")), lambda: None),
    }
    if server is not None:
        url, key = server
        found["TrackerLogger, sync on"] = (
            lambda: TrackerLogger(project="bench", save_dir=os.path.join(tmp, "tracker-online"), console="off",
                                  silent=True, system_interval=0, mode="online", server=url, api_key=key,
                                  entity="bench"),
            lambda: _finish_online(url, key))
    if installed("wandb"):
        import wandb
        from lightning.pytorch.loggers import WandbLogger

        found["WandbLogger(offline=True)"] = (lambda: WandbLogger(project="bench", offline=True, save_dir=tmp),
                                              wandb.finish)
    return found


def _finish_online(url: str, key: str) -> None:
    """Finish the online run (its uploader sends the rest); raises unless the server holds all of its log."""
    import tracker_core

    run = tracker_core.run
    assert run is not None and run.settings.mode == "online", run
    run.finish()
    held, local = held_on_server(url, key, run)
    if held != local:
        raise SystemExit(f"sync on: the server holds seq {held} of the local log's {local}")


def make_module() -> Any:
    import lightning.pytorch as pl
    import torch
    from torch import nn

    class Regressor(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 1))

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            loss = nn.functional.mse_loss(self.net(x), y)
            self.log("train/loss", loss, on_step=True, on_epoch=True)
            self.log("train/lr", 1e-3)
            self.log("train/batch_mean", y.mean())
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            self.log("val/loss", nn.functional.mse_loss(self.net(x), y))

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=1e-3)

    torch.manual_seed(0)
    return Regressor()


def loaders() -> tuple[Any, Any]:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1600 + 320, 32, generator=generator)
    y = x[:, :8].sum(dim=1, keepdim=True)
    train = DataLoader(TensorDataset(x[:1600], y[:1600]), batch_size=32)
    val = DataLoader(TensorDataset(x[1600:], y[1600:]), batch_size=32)
    return train, val


def fit_seconds(make_logger: Callable[[], Any], epochs: int) -> float:
    """Seconds to build the logger and the Trainer and to fit."""
    import lightning.pytorch as pl

    module = make_module()
    train, val = loaders()
    started = time.perf_counter()
    trainer = pl.Trainer(logger=make_logger(), max_epochs=epochs, log_every_n_steps=1, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1,
                         num_sanity_val_steps=0)
    trainer.fit(module, train, val)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--sync", action="store_true", help="also TrackerLogger streaming to a real team server "
                        "(started and stopped here); each of its runs is checked to be whole on the server")
    args = parser.parse_args()
    if not installed("lightning", "torch"):
        print("lightning and torch are needed (pip install 'tracker[lightning]')")
        return 1
    tmp = tempfile.mkdtemp(prefix="tracker-bench-lightning-")
    use_offline_env(tmp)
    import logging

    import torch

    torch.set_num_threads(1)
    for name in ("lightning.pytorch", "lightning.pytorch.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    server = None
    if args.sync:
        os.environ.pop("WANDB_MODE", None)  # it would win over mode="online"; WandbLogger(offline=True) stays offline
        server, url, key = start_team_server(tmp)
    try:
        return _measure(args, contenders(tmp, None if server is None else (url, key)))
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)


def _measure(args: argparse.Namespace, loggers: dict[str, tuple[Callable[[], Any], Callable[[], None]]]) -> int:
    times: dict[str, list[float]] = {name: [] for name in loggers}
    for round_index in range(args.rounds + 1):
        order = list(loggers)
        random.shuffle(order)
        for name in order:
            make, finish = loggers[name]
            seconds = fit_seconds(make, args.epochs)
            finish()
            if round_index:  # round 0 warms up
                times[name].append(seconds)
    base = statistics.median(times["no logger"])
    steps = args.epochs * 50
    rows = []
    for name, values in times.items():
        median = statistics.median(values)
        per_round = statistics.median(v / b for v, b in zip(values, times["no logger"], strict=True))
        rows.append([name, f"{median * 1e3:.0f}", f"{(median - base) * 1e3:+.0f}",
                     f"{(median - base) / steps * 1e6:+.0f}", f"{(median / base - 1) * 100:+.1f} %",
                     f"{(per_round - 1) * 100:+.1f} %"])
    print(f"fit: {args.epochs} epochs x 50 steps (+ validation), every step logged; {args.rounds} rounds")
    print(table(["logger", "median fit ms", "vs none ms", "vs none us/step", "vs none (medians)",
                 "vs none (median of round ratios)"], rows))
    print(table(["logger", "log_metrics() of 4 values, median us"],
                [[name, f"{log_metrics_seconds(make, finish) * 1e6:.1f}"]
                 for name, (make, finish) in loggers.items() if name != "no logger"]))
    return 0


def log_metrics_seconds(make_logger: Callable[[], Any], finish: Callable[[], None], calls: int = 2000) -> float:
    """Median seconds of one ``log_metrics`` call on a live logger, over batches of 100 calls."""
    logger = make_logger()
    row = {"train/loss_step": 0.5, "train/lr": 1e-3, "train/batch_mean": 0.1, "epoch": 0}
    logger.log_metrics(row, step=0)  # the run or file is set up here, outside the timing
    batches = []
    for start in range(1, calls, 100):
        began = time.perf_counter()
        for step in range(start, start + 100):
            logger.log_metrics(row, step=step)
        batches.append((time.perf_counter() - began) / 100)
    finish()
    return statistics.median(batches)


if __name__ == "__main__":
    sys.exit(main())

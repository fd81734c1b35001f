"""Real runs for the web UI tests, written by tracker_core into a store (run as a script in a subprocess).

``python _ui_data.py STORE`` writes project ``vision``: 12 finished runs with a config (lr, optimizer,
depth), a goal metric ``val/acc`` (max), ``train/loss`` over 30 steps, and in the last run an image and a
table. ``python _ui_data.py STORE live RUN_NAME STEPS`` logs one run slowly (the live test's child process).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import tracker_core as tracker

RUNS = 12
STEPS = 30
OPTIMIZERS = ("adam", "sgd", "lion")


def config(i: int) -> dict[str, object]:
    return {"lr": [0.1, 0.03, 0.01, 0.003, 0.001, 0.0003][i % 6], "optimizer": OPTIMIZERS[i % 3], "depth": 2 + i % 4}


def loss(i: int, step: int) -> float:
    return round(2.0 / (1 + step) + 0.05 * i, 6)


def val_acc(i: int, step: int) -> float:
    return round(0.5 + 0.02 * ((i * 7) % RUNS) + 0.001 * step, 6)


def image() -> np.ndarray:
    pixels = np.zeros((6, 8, 3), dtype=np.uint8)
    pixels[..., 0] = np.arange(8, dtype=np.uint8) * 30
    pixels[..., 1] = (np.arange(6, dtype=np.uint8) * 40)[:, None]
    pixels[2, 3] = (255, 255, 0)
    return pixels


def write(store: str) -> None:
    for i in range(RUNS):
        run = tracker.init(project="vision", dir=store, name=f"run-{i:02d}", config=config(i), tags=[f"t{i % 2}"],
                           group=f"g{i % 3}")
        run.define_metric("val/acc", goal="max")
        for step in range(STEPS):
            row: dict[str, object] = {"train/loss": loss(i, step)}
            if step % 5 == 4:
                row["val/acc"] = val_acc(i, step)
            if i == RUNS - 1 and step in (0, STEPS - 1):
                row["samples"] = tracker.Image(image() if step else image() // 2, caption=f"step {step}")
                row["predictions"] = tracker.Table(columns=["id", "label", "score"],
                                                   data=[[k, f"class-{k}", k / 10] for k in range(7)])
            run.log(row, step=step)
        if i == 0:  # lineage: run-00 makes a dataset, run-01 trains on it and logs a model
            source = Path(store).parent / "shards.txt"
            source.write_text("shard-0\nshard-1\n")
            dataset = tracker.Artifact("dataset", type="dataset")
            dataset.add_file(str(source))
            run.log_artifact(dataset, aliases=["golden"])
        if i == 1:
            run.use_artifact("dataset:latest")
            weights = Path(store).parent / "weights.bin"
            weights.write_bytes(b"\x00" * 64)
            model = tracker.Artifact("model", type="model")
            model.add_file(str(weights))
            run.log_artifact(model)
        run.finish()


LONG_STEPS = 20_000
SPIKES = {4_321: 50.0, 12_345: 80.0, 17_777: 65.0}  # single-step spikes a sampled chart would miss


def long(store: str) -> None:
    run = tracker.init(project="long", dir=store, name="long-run", config={"lr": 0.1})
    for step in range(LONG_STEPS):
        run.log({"train/loss": SPIKES.get(step, 1.0 + (step % 7) * 0.01)}, step=step)
    run.finish()


def live(store: str, name: str, steps: int) -> None:
    run = tracker.init(project="vision", dir=store, name=name, config={"lr": 0.5, "optimizer": "live", "depth": 1})
    for step in range(steps):
        run.log({"train/loss": 1.0 / (step + 1)}, step=step)
        time.sleep(0.25)
    run.finish()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[2] == "live":
        live(sys.argv[1], sys.argv[3], int(sys.argv[4]))
    else:
        write(sys.argv[1])
        long(sys.argv[1])

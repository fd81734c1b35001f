"""Cost of ``TrackerCallback`` in a Keras 3 ``fit``: against no callback and Keras' ``CSVLogger``.

A fixed small ``fit``: an MLP 32->128->128->10 on 2048 synthetic samples, batch 32 (58 batches per
epoch), 2 epochs with 10 % validation; on the torch backend without a GPU, one CPU thread.
Contenders run in interleaved rounds (round 0 warms up) on one model; the median ``fit`` time of
each is compared with no callback. The tracker contenders log into one run, started before the
rounds. Two rows force Keras to run batch-end calls on the training thread (``async_safe = False``
on the instance), to measure what opting in to Keras' thread pool changes. Last, the cost of one
``on_train_batch_end`` call, called directly.

Run:  KERAS_BACKEND=torch python benchmarks/bench_keras.py [--rounds 9]     (or KERAS_BACKEND=jax)
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from _common import table, use_offline_env

BATCHES = 2 * 58  # 2 epochs of 58 batches (1843 training samples, batch 32)


def batch_end_cost(callback: Any, model: Any, calls: int = 20_000) -> float:
    """Median seconds per direct ``on_train_batch_end`` call (Keras' own dispatch excluded), over 5 batches."""
    callback.set_model(model)
    callback.set_params({"epochs": 1, "steps": 5 * calls, "verbose": 0})
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    logs = {"accuracy": 0.5, "loss": 1.0}
    per_call = []
    for first in range(0, 5 * calls, calls):
        started = time.perf_counter()
        for batch in range(first, first + calls):
            callback.on_train_batch_end(batch, logs)
        per_call.append((time.perf_counter() - started) / calls)
    return statistics.median(per_call)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    if not os.environ.get("KERAS_BACKEND"):
        print("choose Keras' backend: KERAS_BACKEND=torch python benchmarks/bench_keras.py", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="tracker-bench-keras-")
    use_offline_env(tmp)
    import keras
    import numpy as np

    if keras.backend.backend() == "torch":
        import torch

        if not torch.cuda.is_available():
            torch.set_num_threads(1)
    import tracker_core
    from integrations.keras import TrackerCallback

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((32,)), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2048, 32)).astype("float32")
    y = rng.integers(0, 10, 2048)
    tracker_core.init(project="bench-keras", dir=os.path.join(tmp, "tracker"), console="off", silent=True,
                      system_interval=0)

    def synchronous(callback: Any) -> Any:
        callback.async_safe = False  # Keras then runs every batch-end call on the training thread
        return callback

    contenders: dict[str, Callable[[], list[Any]]] = {
        "no callback": lambda: [],
        "keras CSVLogger": lambda: [keras.callbacks.CSVLogger(os.path.join(tmp, "log.csv"))],
        "TrackerCallback (epoch rows)": lambda: [TrackerCallback()],
        "TrackerCallback (a row every batch)": lambda: [TrackerCallback(log_freq="batch")],
        "TrackerCallback (epoch rows), synchronous": lambda: [synchronous(TrackerCallback())],
        "TrackerCallback (every batch), synchronous": lambda: [synchronous(TrackerCallback(log_freq="batch"))],
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for round_index in range(args.rounds + 1):
        order = list(contenders)
        random.shuffle(order)
        for name in order:
            callbacks = contenders[name]()
            started = time.perf_counter()
            model.fit(x, y, batch_size=32, epochs=2, validation_split=0.1, verbose=0, callbacks=callbacks)
            if round_index:  # round 0 warms up
                times[name].append(time.perf_counter() - started)
    base = statistics.median(times["no callback"])
    rows = []
    for name, values in times.items():
        median = statistics.median(values)
        rows.append([name, f"{median * 1e3:.1f}", f"{median / base:.3f}",
                     f"{(median - base) / BATCHES * 1e6:+.1f}"])
    print(table(["fit (median of rounds)", "ms per fit", "vs no callback", "µs per batch"], rows))
    print(f"{args.rounds} rounds, {BATCHES} batches per fit, keras {keras.__version__}, backend "
          f"{keras.backend.backend()} on {keras.ops.convert_to_tensor(x[:1]).device}")
    for log_freq in ("epoch", "batch"):
        print(f"TrackerCallback(log_freq={log_freq!r}).on_train_batch_end alone: "
              f"{batch_end_cost(TrackerCallback(log_freq=log_freq), model) * 1e6:.2f} µs per call")
    tracker_core.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())

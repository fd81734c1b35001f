"""Overhead of ``report_to="tracker"`` against ``report_to="none"`` on a fixed tiny ``Trainer.train()``.

A 2-layer GPT-2 (n_embd 64, built from a config) trains ``--steps`` steps on synthetic token ids,
batch 16, CPU, one thread, logging every ``--logging-steps`` steps, evaluating every 20 steps. Each
round builds three fresh Trainers (not timed) and times ``train()`` of each, in rotating order:
``report_to="none"``; the same after a plain ``tracker_core.init()`` (timed too: the cost of having a
run at all, its provenance and system threads included); and ``report_to="tracker"``, which starts
the run and sets it up (config, metric definitions) in ``on_train_begin``. ``finish()``, which a
script reaches at exit, is not timed. A first round warms up and is not counted. The difference
between the last two is the callback's own cost, which is also timed alone: one ``on_log()`` of a
training row into a live run. There is no budget for this in DESIGN.md; the script reports, it
does not judge.

Run:  python benchmarks/bench_huggingface.py [--rounds 9] [--steps 60] [--logging-steps 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from typing import Any

from _common import installed, quartiles, table, use_offline_env

VOCAB, LENGTH = 64, 16


def make_trainer(report_to: str, output_dir: str, steps: int, logging_steps: int) -> Any:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

    torch.manual_seed(0)
    ids = (torch.randint(0, VOCAB, (256, 1), generator=torch.Generator().manual_seed(0)) + torch.arange(LENGTH)) % VOCAB
    data = [{"input_ids": row, "labels": row} for row in ids]
    config = GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=VOCAB, n_positions=LENGTH, bos_token_id=0,
                        eos_token_id=0)
    args = TrainingArguments(output_dir, report_to=report_to, max_steps=steps, logging_steps=logging_steps,
                             eval_strategy="steps", eval_steps=20, save_strategy="no", per_device_train_batch_size=16,
                             use_cpu=True, disable_tqdm=True, project="bench_huggingface")
    return Trainer(model=GPT2LMHeadModel(config), args=args, train_dataset=data, eval_dataset=data[:32])


CONTENDERS = {
    "none": 'report_to="none"',
    "init": 'report_to="none" + tracker_core.init()',
    "tracker": 'report_to="tracker"',
}


def timed_train(contender: str, output_dir: str, steps: int, logging_steps: int) -> float:
    """Seconds of ``train()`` (plus ``init()`` for the "init" contender); the run is finished untimed."""
    from transformers import PrinterCallback

    import tracker_core

    trainer = make_trainer("tracker" if contender == "tracker" else "none", output_dir, steps, logging_steps)
    trainer.pop_callback(PrinterCallback)
    started = time.perf_counter()
    if contender == "init":
        tracker_core.init(project="bench_huggingface")
    trainer.train()
    elapsed = time.perf_counter() - started
    tracker_core.finish()
    return elapsed


def on_log_cost(output_dir: str, calls: int) -> float:
    """Median seconds of one ``TrackerCallback.on_log`` of a training row (4 values) into a live run."""
    import tracker_core
    from integrations.huggingface import TrackerCallback

    trainer = make_trainer("none", output_dir, 10, 5)
    callback, state = TrackerCallback(), trainer.state
    tracker_core.init(project="bench_huggingface")
    samples = []
    for step in range(calls):
        state.global_step = step
        logs = {"loss": 1.0 / (step + 1), "grad_norm": 0.5, "learning_rate": 1e-3, "epoch": step / 100}
        started = time.perf_counter()
        callback.on_log(trainer.args, state, trainer.control, logs=logs, model=trainer.model)
        samples.append(time.perf_counter() - started)
    tracker_core.finish()
    return statistics.median(samples[10:])  # the first call sets the run up


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--logging-steps", type=int, default=5)
    options = parser.parse_args()
    if not installed("transformers", "torch"):
        print("transformers and torch are needed: pip install -e '.[huggingface]'")
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-hf-") as tmp:
        use_offline_env(tmp)
        import os

        os.environ.update({"TRACKER_SILENT": "true", "TRACKER_CONSOLE": "off"})
        import torch
        import transformers

        import integrations.huggingface  # noqa: F401 - report_to="tracker" resolves, start-up hook installed or not

        torch.set_num_threads(1)
        transformers.logging.set_verbosity_error()
        names = list(CONTENDERS)
        times: dict[str, list[float]] = {name: [] for name in names}
        ratios: dict[str, list[float]] = {name: [] for name in names}  # against "none" in the same round
        for round_number in range(options.rounds + 1):
            order = names[round_number % 3:] + names[:round_number % 3]
            measured = {name: timed_train(name, os.path.join(tmp, "out"), options.steps, options.logging_steps)
                        for name in order}
            if round_number == 0:
                continue  # warm-up
            for name, seconds in measured.items():
                times[name].append(seconds)
                ratios[name].append(seconds / measured["none"] - 1)
        cost = on_log_cost(os.path.join(tmp, "out"), 2000)
    rows = []
    for name, label in CONTENDERS.items():
        low, high = quartiles(times[name])
        middle = statistics.median(times[name])
        rows.append([label, f"{middle * 1e3:.1f}", f"{low * 1e3:.1f}-{high * 1e3:.1f}",
                     f"{(middle - statistics.median(times['none'])) * 1e3:+.1f}",
                     f"{statistics.median(ratios[name]) * 100:+.2f}"])
    print(f"train() of {options.steps} steps, logging every {options.logging_steps}, {options.rounds} rounds")
    print(table(["contender", "median ms", "quartiles ms", "vs none ms", "median ratio vs none %"], rows))
    print(f"one on_log() of a 4-value training row into a live run: {cost * 1e6:.1f} us (median of 2000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

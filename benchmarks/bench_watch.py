"""Step-time overhead of ``watch(model, log="all", log_freq=100)`` on a 1.1M-parameter MLP.

Budget (issue "Gradient watching and system metrics"): mean step-time overhead <= 2 % against
the same loop without watching. The model is Linear 512->1024->512->128->10 (about 1.1M
parameters), batch 64, AdamW, CPU, one thread. Each contender trains in interleaved rounds of
``--steps`` steps (a multiple of ``log_freq``, so each round includes its logging steps); every
step logs the loss, as a training loop would. All contenders share one model, optimizer and
run; each round attaches its watcher before its steps and removes it after, so only watching
differs. wandb's ``watch`` is measured alike when installed (offline; wandb.log is not called, so
its row is the cost of its hooks alone).

The verdict uses the median of the per-round ratios (watched / unwatched in the same round), which
drift on a noisy machine disturbs less than a ratio of medians. A cost account follows: the time
of the statistics of one logging step and of the hooks of one backward pass, each timed alone, and
the overhead they predict at ``log_freq=100``.

Run:  python benchmarks/bench_watch.py [--rounds 15] [--steps 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

from _common import installed, table, use_offline_env

BUDGET = 0.02


def make_model() -> tuple[object, object, object, object]:
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 512), nn.ReLU(),
                          nn.Linear(512, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = torch.randn(64, 512), torch.randint(0, 10, (64,))
    return model, optimizer, x, y


def train(steps: int, model: object, optimizer: object, x: object, y: object, log: Callable[[float], None]) -> float:
    """Mean seconds per step over ``steps`` steps."""
    from torch import nn

    loss_fn = nn.functional.cross_entropy
    started = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()  # type: ignore[attr-defined]
        loss = loss_fn(model(x), y)  # type: ignore[operator]
        loss.backward()
        optimizer.step()  # type: ignore[attr-defined]
        log(loss.item())
    return (time.perf_counter() - started) / steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="tracker-bench-watch-")
    use_offline_env(tmp)
    import torch

    torch.set_num_threads(1)
    import tracker_core

    # One model, one optimizer and one run for every contender, so only watching differs: each round
    # attaches its watcher before its steps and removes it after.
    parts = make_model()
    model = parts[0]
    run = tracker_core.init(project="watch", dir=tmp, console="off", silent=True, system_interval=0)

    def log(value: float) -> None:
        run.log({"loss": value})

    attach: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
        "no watch (tracker_core logging only)": (lambda: None, lambda: None),
        "tracker_core watch(log='all', 100)": (lambda: run.watch(model, log="all", log_freq=100),
                                               lambda: run.unwatch(model)),
    }
    if installed("wandb"):
        import wandb

        wandb.init(project="watch", mode="offline", dir=tmp)
        attach["wandb.watch(log='all', 100)"] = (lambda: wandb.watch(model, log="all", log_freq=100),
                                                 lambda: wandb.unwatch(model))
    times: dict[str, list[float]] = {name: [] for name in attach}
    for round_index in range(args.rounds + 1):
        order = list(attach)
        random.shuffle(order)
        for name in order:
            start, stop = attach[name]
            start()
            per_step = train(args.steps, *parts, log=log)
            stop()
            if round_index:  # round 0 warms up
                times[name].append(per_step)
    base = "no watch (tracker_core logging only)"
    ours = "tracker_core watch(log='all', 100)"
    base_time = statistics.median(times[base])
    rows = []
    for name, values in times.items():
        median = statistics.median(values)
        per_round = statistics.median(v / b for v, b in zip(values, times[base], strict=True))
        rows.append([name, f"{median * 1e3:.3f}", f"{(median / base_time - 1) * 100:+.2f} %",
                     f"{(per_round - 1) * 100:+.2f} %"])
    print(table(["loop", "median ms/step", "vs no watch (medians)", "vs no watch (median of round ratios)"], rows))
    print(cost_account(parts, base_time))
    overhead = statistics.median(v / b for v, b in zip(times[ours], times[base], strict=True)) - 1
    verdict = "PASS" if overhead <= BUDGET else "FAIL"
    print(f"budget: tracker_core watch overhead {overhead * 100:+.2f} % <= {BUDGET * 100:.0f} %: {verdict}")
    run.finish()
    return 0 if overhead <= BUDGET else 1


def cost_account(parts: tuple[object, object, object, object], step_time: float) -> str:
    """The two costs of watching, each timed alone (medians), and the overhead they add up to."""
    import torch

    from tracker_core._watch import Watcher

    model, optimizer, x, y = parts
    loss_fn = torch.nn.functional.cross_entropy

    def backwards(count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            optimizer.zero_grad()  # type: ignore[attr-defined]
            loss_fn(model(x), y).backward()  # type: ignore[operator]
        return (time.perf_counter() - started) / count

    hooks, bare = [], []
    for _ in range(15):
        bare.append(backwards(20))
        watcher = Watcher(model, log="all", log_freq=10**9)
        hooks.append(backwards(20))
        watcher.remove()
    hook_cost = statistics.median(h - b for h, b in zip(hooks, bare, strict=True))
    stats: list[float] = []
    watcher = Watcher(model, log="all", log_freq=1, on_stats=lambda _: stats.append(time.perf_counter()))
    report = []
    for _ in range(15):
        optimizer.zero_grad()  # type: ignore[attr-defined]
        loss = loss_fn(model(x), y)  # type: ignore[operator]
        started = time.perf_counter()
        loss.backward()
        report.append(stats[-1] - started)  # backward + statistics, up to the statistics handed over
    watcher.remove()
    report_cost = statistics.median(report) - statistics.median(bare)
    predicted = (100 * hook_cost + report_cost) / (100 * step_time)
    return (f"cost account: statistics of one logging step {report_cost * 1e3:.2f} ms; hooks "
            f"{hook_cost * 1e6:.1f} us per backward pass; predicted overhead at log_freq=100: "
            f"{predicted * 100:.2f} % of a {step_time * 1e3:.2f} ms step")


if __name__ == "__main__":
    sys.exit(main())

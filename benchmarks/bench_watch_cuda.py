"""watch() on a CUDA GPU: the same numbers as the CPU path, host syncs per logging step, and the overhead.

On the 1.1M-parameter MLP of bench_watch.py (batch 64, AdamW):
1. the statistics of every gradient and parameter, plus one gradient holding NaN and +-Inf, computed
   on the GPU equal those computed on the CPU (which the tests check against numpy);
2. one logging step's statistics synchronise with the host once (torch's sync debug mode);
3. the step-time overhead of ``watch(log="all", log_freq=100)``: median of 7 paired rounds of 200 steps;
4. a run's row carries the statistics.
Prints a note and exits 0 on a machine without CUDA.

Run:  python benchmarks/bench_watch_cuda.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import warnings
from typing import Any


def check(name: str, ok: bool, detail: str = "") -> bool:
    print(f"{'PASS' if ok else 'FAIL'}  {name}  {detail}")
    return ok


def main() -> int:
    import torch
    from torch import nn

    if not torch.cuda.is_available():
        print("bench_watch_cuda: no CUDA device here; nothing measured")
        return 0
    import tracker_core
    from tracker_core._watch import _rows_on_host

    print("torch", torch.__version__, "on", torch.cuda.get_device_name(0))
    device = torch.device("cuda")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 512), nn.ReLU(),
                          nn.Linear(512, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)
    x, y = torch.randn(64, 512, device=device), torch.randint(0, 10, (64,), device=device)
    nn.functional.cross_entropy(model(x), y).backward()
    tensors: list[Any] = [p.grad for p in model.parameters()] + [p.detach() for p in model.parameters()]
    broken = tensors[0].clone()
    broken[0, :3] = torch.tensor([float("nan"), float("inf"), float("-inf")], device=device)
    tensors.append(broken)
    results = []

    on_gpu = _rows_on_host(torch, tensors)
    on_cpu = _rows_on_host(torch, [tensor.cpu() for tensor in tensors])
    differing = [i for i, (g, c) in enumerate(zip(on_gpu, on_cpu, strict=True)) if g[:2] != c[:2]]
    norm_error = max(abs(g[2] - c[2]) / max(c[2], 1e-30) for g, c in zip(on_gpu, on_cpu, strict=True))
    results.append(check("counts and edges on the GPU equal the CPU's", not differing and on_gpu[-1][0][64] == 3,
                         f"(differing tensors: {differing}; largest relative norm difference {norm_error:.1e})"))

    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        _rows_on_host(torch, tensors)
        torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "called a synchronizing" in str(w.message)]
    results.append(check("one host sync per logging step", len(syncs) == 1, f"({len(syncs)} seen)"))

    root = tempfile.mkdtemp(prefix="tracker-bench-watch-cuda-")
    run = tracker_core.init(project="gpu", dir=root, console="off", silent=True, system_interval=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def steps(count: int) -> float:
        torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(count):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            run.log({"loss": loss.detach()})
        torch.cuda.synchronize()
        return (time.perf_counter() - started) / count

    steps(50)
    ratios, bases = [], []
    for _ in range(7):
        bases.append(steps(200))
        run.watch(model, log="all", log_freq=100)
        ratios.append(steps(200) / bases[-1])
        run.unwatch(model)
    print(f"watch(log='all', log_freq=100) overhead: {(statistics.median(ratios) - 1) * 100:+.2f} % of a "
          f"{statistics.median(bases) * 1e3:.3f} ms step (median of 7 paired rounds of 200 steps)")
    run.watch(model, log="all", log_freq=1)
    steps(1)
    run.finish()
    row = tracker_core.Api(root).run(run.path).history()[-1]
    results.append(check("the run's row carries the GPU statistics",
                         "gradients/0.weight" in row and "gradients/global_norm" in row))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

"""CPU cost of the system metrics sampler (``tracker_core.system.SystemSampler``), as a share of one core.

The figure that matters is the CPU time of one sampling cycle: the thread wakes up, takes one sample
(``/proc`` files, ``statvfs``, NVML and torch when present) and calls ``emit``. At an interval of T
seconds the sampler costs ``cycle CPU / T`` of one core. Three measurements of that cycle:

1. ``Probe.sample()`` called in a loop on this thread, timed with ``time.thread_time()`` (batches of
   calls; median over batches of the per-call time). Caches stay hot, so this is a lower bound.
2. The real thread at short intervals (0.05 s and 1 s): ``emit`` records the sampler thread's own CPU
   clock (``time.thread_time()`` inside the thread), so each difference between consecutive emits is
   exactly one cycle's CPU, wake-up included. Median over cycles.
3. The real thread at the default 10 s interval for ``--default-seconds`` (41 s: 3 full cycles;
   skipped by ``--quick``). Fewest samples, but measured at the real cadence with cold caches.

The 10 s figure extrapolated from (2) is ``median cycle CPU / 10 s``; the cycle does the same work at
any interval (every sample reads the same files), so only cache warmth differs, which (3) checks.
Not included: what the run's ``emit`` does with the sample (one record through the run's writer,
the cost of one ``log()`` call, a few microseconds). Also shown, for information: the psutil path
used on platforms other than Linux, when psutil is installed.

Budget (issue "Gradient watching and system metrics"): < 0.5 % of one core at the default 10 s.

Run:  python benchmarks/bench_system.py [--quick] [--default-seconds S]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time

from _common import installed, median, quartiles, table, verdict

BUDGET_PERCENT = 0.5
DEFAULT_INTERVAL = 10.0


def direct(batches: int, per_batch: int) -> list[float]:
    """Per-call CPU seconds of ``Probe.sample()`` on this thread, one figure per batch."""
    from tracker_core.system import Probe

    probe = Probe()
    for _ in range(20):
        probe.sample()  # warm-up: first reads, lazy imports, NVML init
    out = []
    for _ in range(batches):
        t0 = time.thread_time()
        for _ in range(per_batch):
            probe.sample()
        out.append((time.thread_time() - t0) / per_batch)
    probe.close()
    return out


def threaded(interval: float, seconds: float) -> tuple[list[float], list[float], int]:
    """Run a SystemSampler; returns the CPU seconds of each cycle, the wall gaps between emits, and the keys."""
    from tracker_core.system import SystemSampler

    marks: list[tuple[float, float]] = []
    keys: list[int] = []

    def emit(metrics: dict[str, float | int]) -> None:
        marks.append((time.thread_time(), time.monotonic()))  # the sampler thread's own CPU clock
        keys.append(len(metrics))

    sampler = SystemSampler(emit, interval)
    sampler.start()
    time.sleep(seconds)
    sampler.stop(timeout=5)
    cpu = [b[0] - a[0] for a, b in itertools.pairwise(marks)]
    gaps = [b[1] - a[1] for a, b in itertools.pairwise(marks)]
    return cpu, gaps, max(keys, default=0)


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} us"


def share(cycle_cpu: float, interval: float = DEFAULT_INTERVAL) -> str:
    return f"{100 * cycle_cpu / interval:.5f} %"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs; skips the run at the default interval")
    parser.add_argument("--default-seconds", type=float, default=41.0,
                        help="how long to run at the default 10 s interval (0 skips it; default 41)")
    args = parser.parse_args()
    default_seconds = 0.0 if args.quick else args.default_seconds

    from tracker_core import system

    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, psutil {'yes' if installed('psutil') else 'no'}, "
          f"pynvml {'yes' if installed('pynvml') else 'no'}, torch imported: {'torch' in sys.modules}")
    print("one sample:", ", ".join(sorted(k.removeprefix("system/") for k in system.sample())), "\n")

    rows: list[list[object]] = []
    per_call = direct(batches=11 if args.quick else 31, per_batch=50)
    lo, hi = quartiles(per_call)
    rows.append(["Probe.sample() in a loop, this thread", len(per_call), fmt_us(median(per_call)),
                 f"{fmt_us(lo)}-{fmt_us(hi)}", "", share(median(per_call))])
    if installed("psutil") and sys.platform.startswith("linux"):
        system._LINUX = False  # the path taken on macOS and Windows, measured here for information
        try:
            per_call_psutil = direct(batches=11, per_batch=50)
        finally:
            system._LINUX = sys.platform.startswith("linux")
        lo, hi = quartiles(per_call_psutil)
        rows.append(["  (psutil path, as on macOS; information only)", len(per_call_psutil),
                     fmt_us(median(per_call_psutil)), f"{fmt_us(lo)}-{fmt_us(hi)}", "", share(median(per_call_psutil))])

    verdict_cycle: float | None = None
    runs = [(0.05, 4.0 if args.quick else 10.0), (1.0, 6.0 if args.quick else 16.0)]
    if default_seconds > 0:
        runs.append((DEFAULT_INTERVAL, default_seconds))
    for interval, seconds in runs:
        cpu, gaps, nkeys = threaded(interval, seconds)
        if not cpu:
            rows.append([f"SystemSampler thread, interval {interval:g} s", 0, "too short to measure", "", "", ""])
            continue
        lo, hi = quartiles(cpu)
        rows.append([f"SystemSampler thread, interval {interval:g} s ({nkeys} keys)", len(cpu), fmt_us(median(cpu)),
                     f"{fmt_us(lo)}-{fmt_us(hi)}", f"{median(gaps):.3f} s", share(median(cpu))])
        if interval == 0.05:
            verdict_cycle = median(cpu)
        if interval == DEFAULT_INTERVAL:
            verdict_cycle = max(verdict_cycle or 0.0, median(cpu))  # the measured one counts if it is worse

    print(table(["what", "cycles", "CPU per cycle (median)", "IQR", "wall between emits", "share of 1 core at 10 s"],
                rows))
    if verdict_cycle is None:
        print("\nno cycle measured")
        return 1
    percent = 100 * verdict_cycle / DEFAULT_INTERVAL
    ok = percent < BUDGET_PERCENT
    print(f"\nsampler at the default {DEFAULT_INTERVAL:g} s interval: {percent:.5f} % of one core "
          f"(budget < {BUDGET_PERCENT} %; {BUDGET_PERCENT / max(percent, 1e-9):,.0f}x under it): {verdict(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

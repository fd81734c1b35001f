"""Memory across 10^6 ``run.log()`` calls: the resident set size must stay flat.

One tracker_core run logs 4 scalars at a new step 10^6 times; RSS (psutil, else /proc/self/statm)
is sampled before the first call and after every 10^5 calls. The growth reported is from the 2nd
sample (after 10^5 calls, once caches and allocator pools are warm) to the last.

Budget (DESIGN.md): flat. This script calls growth <= 1 MB flat; keeping every row would cost
about 100 MB. The run folder is a temporary one, deleted at the end.

Run:  python benchmarks/bench_memory.py [--calls N] [--every N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

from _common import ROW, table, verdict

FLAT_MB = 1.0


def rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="log() calls (default 10^6)")
    parser.add_argument("--every", type=int, default=100_000, help="calls between samples (default 10^5)")
    args = parser.parse_args()
    import tracker_core

    tmp = tempfile.mkdtemp(prefix="bench_memory_")
    try:
        run = tracker_core.init(project="memory", dir=tmp, console="off", silent=True)
        log = run.log
        samples = [(0, rss_mb(), 0.0)]
        start = time.perf_counter()
        for step in range(args.calls):
            log(ROW, step=step)
            if (step + 1) % args.every == 0:
                samples.append((step + 1, rss_mb(), time.perf_counter() - start))
        run.finish()
        log_mb = os.path.getsize(os.path.join(run.dir, "events.jsonl")) / 2**20
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    base = samples[0][1]
    rows = [[f"{calls:,}", f"{mb:.2f}", f"{mb - base:+.2f}", f"{elapsed:.1f}"] for calls, mb, elapsed in samples]
    print(f"bench_memory: {args.calls:,} log() calls of 4 scalars; python {sys.version.split()[0]}; "
          f"log file {log_mb:.0f} MB\n")
    print(table(["calls", "RSS MB", "vs start", "elapsed s"], rows))
    growth = samples[-1][1] - samples[1][1]
    ok = growth <= FLAT_MB
    print(f"\nbudget: RSS growth from {samples[1][0]:,} to {samples[-1][0]:,} calls: {growth:+.2f} MB "
          f"(flat: <= {FLAT_MB} MB): {verdict(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

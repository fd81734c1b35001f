"""What streaming to the team server costs the training process for a short run: CPU of the whole process
per run, online against offline (the floor: the same run written to the local store only), and the CPU of
the uploader's thread per run and per request.

Each round makes one offline and one online run, in shuffled order, in this process (round 0 warms up):
``init()``, 200 rows of 4 scalars a millisecond apart (about 0.25 s, like the Lightning benchmark's fit),
``finish()``. CPU is ``time.process_time()`` (the whole process: training thread, uploader, sampler off)
until ``finish()`` is called and including it, and ``time.thread_time()`` on the uploader's thread and
around each of its requests. The team server is a real process (SQLite, one worker) on the same machine;
after each online run it must hold the whole log.

Run:  python benchmarks/bench_client.py [--rounds 21]
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import statistics
import sys
import tempfile
import time
from typing import Any

from _common import held_on_server, start_team_server, table, use_offline_env


def _instrument() -> tuple[list[float], dict[str, list[float]]]:
    """Time the uploader's thread and its requests (thread CPU); returns the lists they fill."""
    from tracker_core.sync import _client, _uploader

    per_run: list[float] = []
    per_call: dict[str, list[float]] = collections.defaultdict(list)
    work, call = _uploader.Uploader._work, _client.ServerClient.call

    def timed_work(self: Any) -> None:
        start = time.thread_time()
        try:
            work(self)
        finally:
            per_run.append(time.thread_time() - start)

    def timed_call(self: Any, method: str, path: str, what: str, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return call(self, method, path, what, **kwargs)
        finally:
            per_call[f"{method} {what}"].append(time.thread_time() - start)

    _uploader.Uploader._work = timed_work  # type: ignore[method-assign]
    _client.ServerClient.call = timed_call  # type: ignore[method-assign]
    return per_run, per_call


def _one_run(tmp: str, server: tuple[str, str] | None) -> tuple[float, float]:
    """(process CPU until finish() is called, process CPU with finish()) of one short run."""
    import tracker_core

    online = {"mode": "online", "server": server[0], "api_key": server[1], "entity": "bench"} if server else {}
    start = time.process_time()
    run = tracker_core.init(project="bench", dir=os.path.join(tmp, "online" if server else "offline"),
                            console="off", silent=True, system_interval=0, **online)
    for step in range(200):
        run.log({"a": step, "b": 0.5, "c": 1.5, "d": 2.5})
        time.sleep(0.001)
    before_finish = time.process_time() - start
    run.finish()
    spent = time.process_time() - start
    if server is not None:
        held, local = held_on_server(server[0], server[1], run)
        if held != local:
            raise SystemExit(f"the server holds seq {held} of run {run.id}, the local log {local}")
    return before_finish, spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=21)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        use_offline_env(tmp)
        proc, url, key = start_team_server(tmp)
        try:
            uploader_cpu, call_cpu = _instrument()
            times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
            for round_number in range(options.rounds + 1):
                order = [False, True]
                random.shuffle(order)
                for online in order:
                    spent = _one_run(tmp, (url, key) if online else None)
                    if round_number:
                        times[online].append(spent)
                if round_number == 0:
                    uploader_cpu.clear()
                    call_cpu.clear()
        finally:
            proc.kill()
    rows: list[list[object]] = []
    for online in (False, True):
        until = statistics.median(t[0] for t in times[online]) * 1000
        whole = statistics.median(t[1] for t in times[online]) * 1000
        rows.append(["online (streams to the server)" if online else "offline (the floor)", f"{until:.1f}",
                     f"{whole:.1f}"])
    print(f"{options.rounds} rounds, a run of 200 rows over ~0.25 s; process CPU per run, medians")
    print(table(["run", "CPU until finish() ms", "CPU with finish() ms"], rows))
    rounds = options.rounds
    print(f"\nuploader thread CPU per run: median {statistics.median(uploader_cpu) * 1000:.2f} ms")
    print(table(["request", "per run", "CPU median ms", "CPU per run ms"],
                [[what, f"{len(spent) / rounds:.1f}", f"{statistics.median(spent) * 1000:.3f}",
                  f"{sum(spent) / rounds * 1000:.2f}"] for what, spent in sorted(call_cpu.items())]))


if __name__ == "__main__":
    sys.exit(main())

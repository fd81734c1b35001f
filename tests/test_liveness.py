"""Telling a live writer from a dead one: boot id + pid + start time on this host, heartbeats elsewhere."""

from __future__ import annotations

import subprocess
import sys
import time

import tracker_core
from tracker_core._process import current_identity, writer_state


def test_this_process_is_alive() -> None:
    assert writer_state(current_identity(), time.time(), 30.0) == "alive"


def test_an_exited_process_is_dead() -> None:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    identity = {**current_identity(), "pid": int(child.stdout), "start_ticks": 1}
    assert writer_state(identity, time.time(), 30.0) == "dead"


def test_a_reused_pid_with_another_start_time_is_dead() -> None:
    identity = current_identity()
    identity["start_ticks"] = identity["start_ticks"] - 1  # same pid, different process
    assert writer_state(identity, time.time(), 30.0) == "dead"


def test_another_host_is_judged_by_its_last_heartbeat() -> None:
    elsewhere = {"host": "gpu-node-7", "boot_id": "other", "pid": 1, "start_ticks": 5}
    now = time.time()
    assert writer_state(elsewhere, now - 30, 30.0, now=now) == "alive"
    assert writer_state(elsewhere, now - 3600, 30.0, now=now) == "dead"


def test_a_live_run_writes_heartbeats_at_its_interval() -> None:
    run = tracker_core.init(project="beat", heartbeat_interval=0.2)
    time.sleep(1.1)
    run.finish()
    with open(f"{run.dir}/events.jsonl", encoding="utf-8") as handle:
        beats = sum('"type":"heartbeat"' in line for line in handle)
    assert 3 <= beats <= 7

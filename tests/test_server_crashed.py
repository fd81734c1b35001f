"""A run whose client died without a word shows ``crashed`` on the server once its heartbeat is stale,
never before; a later ``tracker sync`` of its log keeps the log's truth.

Real processes throughout: the project's server (``python -m tracker_server``) with a small
``TRACKER_SERVER_STALE_SLACK``, training children streaming online with a 0.5 s heartbeat, one of
them SIGKILLed mid-run, another finishing while the server is down (its final records reach the
server only through ``tracker sync``). Every state is read through the server's HTTP read API: the
run's JSON, the project's listing, and the listing filtered on ``status``.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from _procs import Child, child_env, run_command
from _team import TeamServer

import tracker_core

pytestmark = pytest.mark.slow

TRACKER = [sys.executable, "-m", "tracker_core.cli"]
HEARTBEAT = 0.5
SLACK = 2.0  # small, so the test is short; large enough for a loaded machine to deliver heartbeats
BOUND = 3 * HEARTBEAT + SLACK  # the server's stale_after for these runs

TRAINING = """
    import sys, time
    import tracker_core as tracker
    run = tracker.init(project="p", name=sys.argv[1])
    print("run", run.id, flush=True)
    step = 0
    while True:
        run.log({"loss": 1.0 / (step + 1)}, step=step)
        step += 1
        time.sleep(0.01)
        if sys.argv[1] == "finishes" and step % 50 == 0:
            import select
            if select.select([sys.stdin], [], [], 0)[0]:
                break
    run.finish()
    print("finished", flush=True)
"""


def online_env(server: TeamServer) -> dict[str, str]:
    return child_env(TRACKER_SERVER=server.url, TRACKER_API_KEY=server.key, TRACKER_ENTITY="research",
                     TRACKER_HEARTBEAT_INTERVAL=str(HEARTBEAT), TRACKER_SYNC_TIMEOUT="1")


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Reader:
    """The server's read API for one project, as the UI and ``tracker runs`` use it."""

    def __init__(self, server: TeamServer) -> None:
        self.client = server.client(server.key)

    def run(self, run_id: str) -> dict[str, Any]:
        answer = self.client.get(f"/api/v1/runs/research/p/{run_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def listed(self, run_id: str) -> str:
        runs = self.client.get("/api/v1/runs/research/p").json()["runs"]
        return str(next(run["state"] for run in runs if run["id"] == run_id))

    def with_status(self, status: str) -> set[str]:
        answer = self.client.get("/api/v1/runs/research/p", params={"filters": f"status={status}"})
        assert answer.status_code == 200, answer.text
        return {run["id"] for run in answer.json()["runs"]}

    def views(self, run_id: str) -> list[tuple[str, str, float, float]]:
        """(view, the state it shows, wall clock before and after asking) for the run's JSON, the listing,
        and the listings filtered on ``status=running`` and ``status=crashed``."""
        shown: list[tuple[str, str, float, float]] = []
        for view, ask in (("json", lambda: str(self.run(run_id)["state"])), ("listing", lambda: self.listed(run_id)),
                          ("status=running", lambda: "running" if run_id in self.with_status("running") else "-"),
                          ("status=crashed", lambda: "crashed" if run_id in self.with_status("crashed") else "-")):
            before = time.time()
            state = ask()
            shown.append((view, state, before, time.time()))
        return shown

    def states(self, run_id: str) -> tuple[str, str, str]:
        """The state in the run's JSON, in the listing, and the status filter that lists it."""
        filtered = [status for status in ("running", "crashed", "finished") if run_id in self.with_status(status)]
        assert len(filtered) == 1, filtered
        return str(self.run(run_id)["state"]), self.listed(run_id), filtered[0]

    def close(self) -> None:
        self.client.close()


def watch_until_crashed(reader: Reader, run_id: str, killed_at: float, timeout: float) -> float:
    """Poll every view until all say ``crashed``: each says ``running`` until the server's last heartbeat of
    the run plus the bound, and ``crashed`` from then on. Returns when the last one turned (wall clock)."""
    deadline = time.monotonic() + timeout
    heartbeat = float(reader.run(run_id)["heartbeat_at"])
    assert heartbeat <= killed_at, "a heartbeat after the end"
    while True:
        views = reader.views(run_id)
        assert float(reader.run(run_id)["heartbeat_at"]) == heartbeat  # nothing arrives from a dead client
        for view, state, before, after in views:
            if state == "crashed" or (view == "status=running" and state == "-"):
                assert after >= heartbeat + BOUND, f"{view}: crashed {after - heartbeat:.2f} s after the heartbeat"
            else:
                assert state in ("running", "-"), (view, state)
                assert before <= heartbeat + BOUND + 0.5, f"{view}: {state} {before - heartbeat:.2f} s after it"
        if [state for _, state, _, _ in views] == ["crashed", "crashed", "-", "crashed"]:
            return views[-1][3]
        assert time.monotonic() < deadline, views
        time.sleep(0.05)


def local_records(store: Path, run_id: str) -> list[dict[str, Any]]:
    import json

    data = (store / "p" / run_id / "events.jsonl").read_bytes()
    return [json.loads(line) for line in data.split(b"\n")[:-1] if line]


def test_a_sigkilled_client_reads_crashed_within_the_bound_and_sync_keeps_the_logs_truth(
        tmp_path: Path, store: Path) -> None:
    server = TeamServer(tmp_path / "server")
    server.env["TRACKER_SERVER_STALE_SLACK"] = str(SLACK)
    server.start()
    reader = Reader(server)
    try:
        with Child(tmp_path, TRAINING, "killed", env=online_env(server), name="killed.py") as killed, \
                Child(tmp_path, TRAINING, "finishes", env=online_env(server), name="finishes.py") as finishes:
            killed_id = killed.expect("run ").split()[1]
            finished_id = finishes.expect("run ").split()[1]
            wait_for(lambda: server.records(killed_id, "p") != [] and server.records(finished_id, "p") != [])
            time.sleep(2 * BOUND)  # streaming, heartbeats included: both read running all along
            for run_id in (killed_id, finished_id):
                assert reader.states(run_id) == ("running", "running", "running")

            killed.proc.send_signal(signal.SIGKILL)
            killed_at = time.time()
            killed.kill()
            time.sleep(0.5)  # what was in flight has landed
            turned = watch_until_crashed(reader, killed_id, killed_at, timeout=BOUND + 10)
            assert turned - killed_at <= BOUND + 1.0  # the heartbeat's delivery delay included
            assert reader.states(finished_id) == ("running", "running", "running")

            server.kill()  # the other run finishes while nothing answers: its final records stay local
            finishes.send("stop")
            finishes.expect("finished", timeout=60)
            assert finishes.wait() == 0
        assert local_records(store, finished_id)[-1]["status"] == "finished"
        server.start()
        reader.close()
        reader = Reader(server)
        watch_until_crashed(reader, finished_id, time.time(), timeout=BOUND + 10)  # its last words never came

        local = tracker_core.Api()
        assert local.run(f"p/{killed_id}").state == "crashed"  # the writer is dead and wrote no final record
        assert local.run(f"p/{finished_id}").state == "finished"
        wait_for(lambda: time.time() > local_records(store, killed_id)[-1]["t"] + BOUND)
        done = run_command([*TRACKER, "sync", str(store)], env=online_env(server), timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        for run_id in (killed_id, finished_id):
            assert server.records(run_id, "p") == local_records(store, run_id)
        assert reader.states(killed_id) == ("crashed", "crashed", "crashed")
        assert reader.states(finished_id) == ("finished", "finished", "finished")
        assert reader.run(finished_id)["exit_code"] == 0
        assert reader.with_status("crashed") == {killed_id}
    finally:
        reader.close()
        server.kill()

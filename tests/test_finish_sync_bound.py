"""``finish()`` waits for the upload at most TRACKER_SYNC_TIMEOUT in all, counted from the call, even when
the server holds the connection and never answers; then it says, in one line, which ``tracker sync``
uploads the rest, and that command does.

Real processes: the project's server (``python -m tracker_server``) streamed to by a training child,
then frozen with SIGSTOP (its socket still accepts, nothing answers); and a loopback socket that
accepts connections and never answers at all. In the child, a background service that takes 1.5 s
to stop runs before the final record, so the bound is shown to count the whole of ``finish()``.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from _procs import Child, child_env, run_command
from _team import TeamServer

pytestmark = pytest.mark.slow

TRACKER = [sys.executable, "-m", "tracker_core.cli"]
SYNC_TIMEOUT = 2.0

TRAINING = """
    import json, sys, time
    import tracker_core as tracker
    from tracker_core import _services

    class SlowToStop:  # a before-final service, as the heartbeat or the console capture are
        name = "slow"
        def start(self): pass
        def stop(self, deadline): time.sleep(1.5)
        def forked(self): pass

    _services.register(lambda context: SlowToStop())
    run = tracker.init(project="p")
    print("run", run.id, flush=True)
    step = 0
    while not step or sys.stdin.readline().strip() != "finish":
        for _ in range(2000):
            run.log({"loss": 1.0 / (step + 1), "acc": step * 1e-4}, step=step)
            step += 1
        print("logged", step, flush=True)
    started = time.monotonic()
    run.finish()
    print(json.dumps({"finish": time.monotonic() - started}), flush=True)
    print("exiting", time.time(), flush=True)
"""


def online_env(url: str, key: str) -> dict[str, str]:
    return child_env(TRACKER_SERVER=url, TRACKER_API_KEY=key, TRACKER_ENTITY="research",
                     TRACKER_SYNC_TIMEOUT=str(SYNC_TIMEOUT), TRACKER_SILENT="false")


def local_records(store: Path, run_id: str) -> list[dict[str, Any]]:
    data = (store / "p" / run_id / "events.jsonl").read_bytes()
    return [json.loads(line) for line in data.split(b"\n")[:-1] if line]


def finish_against(tmp_path: Path, env: dict[str, str], ready: Any = None) -> tuple[str, str]:
    """Run the child to its end; ``ready(run_id)`` is called while it streams, before it logs more and finishes.
    Asserts the bound on ``finish()`` and on the process's exit; returns the run id and the child's stderr."""
    with Child(tmp_path, TRAINING, env=env) as child:
        run_id = child.expect("run ").split()[1]
        child.expect("logged")
        if ready is not None:
            ready(run_id)
        child.send("more")  # logged while nothing answers
        child.expect("logged")
        child.send("finish")
        took = json.loads(child.expect("{", timeout=60))["finish"]
        exiting = float(child.expect("exiting").split()[1])
        assert child.wait(timeout=30) == 0
        exited = time.time()
        assert SYNC_TIMEOUT - 0.1 <= took <= SYNC_TIMEOUT + 0.5, took  # not 1.5 s (the slow service) more
        assert exited - exiting < 2.0, "the process did not exit promptly after finish()"
        return run_id, child.stderr


def test_finish_against_a_frozen_server_waits_sync_timeout_in_all_and_sync_uploads_the_rest(
        tmp_path: Path, store: Path) -> None:
    server = TeamServer(tmp_path / "server").start()
    try:
        def freeze(run_id: str) -> None:
            deadline = time.monotonic() + 30
            while not server.records(run_id):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert server.proc is not None
            server.proc.send_signal(signal.SIGSTOP)

        run_id, stderr = finish_against(tmp_path, online_env(server.url, server.key), freeze)
        local = local_records(store, run_id)
        assert local[-1]["status"] == "finished"
        assert server.proc is not None
        server.proc.send_signal(signal.SIGCONT)
        time.sleep(0.5)  # a batch sent before the freeze may be stored now; its answer went nowhere
        held = server.records(run_id)
        lines = [line for line in stderr.splitlines() if "tracker sync" in line]
        assert len(lines) == 1, stderr
        found = re.search(rf"(\d+) records of run {run_id} not on {re.escape(server.url)} yet", lines[0])
        assert found is not None, lines[0]
        left = int(found[1])
        assert left > 0 and len(local) - left <= len(held) < len(local)  # what the client saw acknowledged is there
        assert f"`tracker sync {store}`" in lines[0], lines[0]
        done = run_command([*TRACKER, "sync", str(store)], env=online_env(server.url, server.key), timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert server.records(run_id) == local
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.send_signal(signal.SIGCONT)
        server.kill()


def test_finish_against_a_socket_that_never_answers_waits_sync_timeout_in_all(
        tmp_path: Path, store: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # connections complete in the backlog; nothing is ever read or answered
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        run_id, stderr = finish_against(tmp_path, online_env(url, "k" * 32))
    total = local_records(store, run_id)[-1]["seq"]
    lines = [line for line in stderr.splitlines() if "tracker sync" in line]
    assert len(lines) == 1 and f"{total} records of run {run_id} not on {url}" in lines[0], stderr

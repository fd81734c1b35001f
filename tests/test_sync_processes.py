"""Streaming with real processes: a training child streams to a server process that is SIGKILLed and
restarted; a child SIGKILLed mid-upload is completed by ``tracker sync``; a server down for a whole run
costs ``log()`` nothing and ``finish()`` at most TRACKER_SYNC_TIMEOUT; the API key never lands in a run file.

The server is the project's own (``python -m tracker_server``, SQLite and a blob folder), run as its
own process; the records it holds are read back through its API and compared with the local log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from _procs import Child, child_env, requires_torch, run_command, write_script
from _team import TeamServer

pytestmark = pytest.mark.slow

TRACKER = [sys.executable, "-m", "tracker_core.cli"]


@pytest.fixture
def server(tmp_path: Path) -> Any:
    process = TeamServer(tmp_path / "server").start()
    yield process
    process.kill()


def online_env(server: TeamServer, **extra: str) -> dict[str, str]:
    return child_env(TRACKER_SERVER=server.url, TRACKER_API_KEY=server.key, TRACKER_ENTITY="research", **extra)


def local_records(store: Path, run_id: str, project: str = "p") -> list[dict[str, Any]]:
    data = (store / project / run_id / "events.jsonl").read_bytes()
    return [json.loads(line) for line in data.split(b"\n")[:-1] if line]


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


STREAMING = """
    import os, sys, time
    import tracker_core as tracker
    run = tracker.init(project="p")
    print("run", run.id, flush=True)
    print("the key is", os.environ["TRACKER_API_KEY"])  # a careless print, captured into files/output.log
    for step in range(int(sys.argv[1])):
        run.log({"loss": 1.0 / (step + 1), "step_nan": float("nan") if step % 50 == 0 else 0.0})
        if step % 100 == 0:
            time.sleep(0.05)
    run.finish()
    print("finished", flush=True)
"""


def test_a_server_killed_and_restarted_mid_run_loses_nothing_and_duplicates_nothing(
        tmp_path: Path, store: Path, server: TeamServer) -> None:
    env = online_env(server, TRACKER_CONSOLE="auto", TRACKER_SILENT="false")
    with Child(tmp_path, STREAMING, "4000", "--api-key", server.key, env=env) as child:
        run_id = child.expect("run ").split()[1]
        wait_for(lambda: len(server.records(run_id)) > 200)  # streaming while the run trains
        server.kill()
        time.sleep(1.0)  # the run goes on; its records wait in the local log
        server.start()
        child.expect("finished", timeout=120)
        assert child.wait() == 0
    local = local_records(store, run_id)
    assert local[-1]["type"] == "status" and local[-1]["status"] == "finished"
    assert server.records(run_id) == local  # seq by seq: nothing lost, nothing twice
    assert "files/output.log" in server.files(run_id)
    for path in (store / "p" / run_id).rglob("*"):  # the key is in no run file: log, run.json, console, state
        if path.is_file():
            assert server.key.encode() not in path.read_bytes(), path
    provenance = next(r for r in local if r["type"] == "provenance")["data"]
    assert provenance["command"][-2:] == ["--api-key", "***"]
    assert "the key is ***" in (store / "p" / run_id / "files" / "output.log").read_text()


def settled_count(server: TeamServer, run_id: str) -> int:
    """The server's record count for the run once it has stopped changing for a second (bounded: 30 s)."""
    count, deadline = len(server.records(run_id)), time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = len(server.records(run_id))
        if now == count:
            return count
        count = now
    return count


KILLED = """
    import sys, time
    import tracker_core as tracker
    run = tracker.init(project="p")
    print("run", run.id, flush=True)
    step = 0
    while True:  # until SIGKILLed
        run.log({"loss": float(step), "text": "x" * 200})
        step += 1
        if step % 200 == 0:
            time.sleep(0.01)
"""


def test_a_client_killed_mid_upload_is_completed_by_tracker_sync_exactly_once(
        tmp_path: Path, store: Path, server: TeamServer) -> None:
    with Child(tmp_path, KILLED, env=online_env(server)) as child:
        run_id = child.expect("run ").split()[1]
        wait_for(lambda: len(server.records(run_id)) > 500)
        assert server.proc is not None
        os.killpg(server.proc.pid, signal.SIGSTOP)  # frozen: what the child logs from now on cannot be sent
        try:
            logged = len(local_records(store, run_id))
            wait_for(lambda: len(local_records(store, run_id)) > logged + 500)
            child.kill()
        finally:
            os.killpg(server.proc.pid, signal.SIGCONT)
    local = local_records(store, run_id)
    before = settled_count(server, run_id)  # a batch in flight at the freeze may still land
    assert 0 < before < len(local), "killed with records still to upload"
    done = run_command([*TRACKER, "sync", str(store)], env=online_env(server))
    assert done.returncode == 0, done.stderr
    assert f"p/{run_id}: sent {len(local) - before} records" in done.stdout
    assert server.records(run_id) == local
    again = run_command([*TRACKER, "sync", str(store)], env=online_env(server))
    assert again.returncode == 0, again.stderr
    assert "synced 0 runs" in again.stdout and "1 already there" in again.stdout
    assert server.records(run_id) == local


DOWN = """
    import json, sys, time
    import tracker_core as tracker
    run = tracker.init(project="p")
    durations = []
    for step in range(5000):
        started = time.perf_counter()
        run.log({"loss": 1.0 / (step + 1), "acc": step / 5000})
        durations.append(time.perf_counter() - started)
        if step % 500 == 0:
            time.sleep(0.05)  # let the uploader try (and fail) meanwhile
    started = time.monotonic()
    run.finish()
    durations.sort()
    print(json.dumps({"id": run.id, "finish": time.monotonic() - started,
                      "p99": durations[int(len(durations) * 0.99)]}), flush=True)
"""


def test_with_the_server_down_log_never_waits_finish_is_bounded_and_sync_uploads_later(
        tmp_path: Path, store: Path) -> None:
    down = TeamServer(tmp_path / "server")  # not started: nothing listens on its port
    env = online_env(down, TRACKER_SYNC_TIMEOUT="2", TRACKER_SILENT="false")
    done = run_command([sys.executable, "-c", textwrap.dedent(DOWN)], env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["p99"] < 1e-3, result  # microseconds-scale: log() only appends to the local file
    assert result["finish"] < 2 + 3.0, result  # the sync timeout, plus the rest of finish()
    total = local_records(store, result["id"])[-1]["seq"]
    lines = [line for line in done.stderr.splitlines() if "tracker sync" in line]
    assert len(lines) == 1 and f"{total} records of run {result['id']}" in lines[0], done.stderr
    early = run_command([*TRACKER, "sync", str(store)], env=online_env(down), timeout=60)
    assert early.returncode == 1 and "The server is unreachable" in early.stdout, early.stdout + early.stderr
    down.start()
    try:
        synced = run_command([*TRACKER, "sync", str(store)], env=online_env(down))
        assert synced.returncode == 0, synced.stderr
        assert down.records(result["id"]) == local_records(store, result["id"])
    finally:
        down.kill()


def test_tracker_login_checks_the_key_and_stores_it_for_this_user_only(
        tmp_path: Path, server: TeamServer) -> None:
    env = child_env()
    refused = subprocess.run([*TRACKER, "login", server.url], input="not-the-key\n", capture_output=True, text=True,
                             env=env, timeout=60)
    assert refused.returncode == 2 and "HTTP 401" in refused.stderr and "not-the-key" not in refused.stderr
    credentials = Path(env["XDG_CONFIG_HOME"]) / "tracker" / "credentials.json"
    assert not credentials.exists()
    done = subprocess.run([*TRACKER, "login", server.url], input=server.key + "\n", capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "as box (teams: research (member))" in done.stdout and server.key not in done.stdout
    assert os.stat(credentials).st_mode & 0o777 == 0o600
    assert json.loads(credentials.read_text()) == {"url": server.url, "key": server.key}
    streamed = run_command([sys.executable, "-c", "import tracker_core as t; r = t.init(project='p', "
                            "entity='research'); r.log({'a': 1}); r.finish(); print(r.id, r.settings.mode)"],
                           env=env, timeout=60)  # no TRACKER_SERVER / TRACKER_API_KEY: the login is used
    run_id, mode = streamed.stdout.split()
    assert mode == "online"
    assert [r["type"] for r in server.records(run_id)][-1] == "status"


DDP = """
    import torch.distributed as dist
    import tracker_core

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    run = tracker_core.init(project="p", config={"lr": 0.1})
    for step in range(200):
        run.log({"loss": 1.0 / (step + 1), "rank": rank}, step=step)
    run.finish()
    dist.barrier()
    dist.destroy_process_group()
"""


@requires_torch
@pytest.mark.timeout(240)
def test_a_torchrun_job_streams_one_run_from_rank_zero(tmp_path: Path, store: Path, server: TeamServer) -> None:
    script = write_script(tmp_path, DDP, "ddp.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)]
    done = run_command(command, env=online_env(server, OMP_NUM_THREADS="1"), timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    (run_id,) = [p.name for p in (store / "p").iterdir() if not p.name.startswith(".")]
    with server.client(server.key) as client:
        listed = client.get("/api/v1/runs/research/p").json()
    assert [run["id"] for run in listed["runs"]] == [run_id]  # one run, not one per rank
    local = local_records(store, run_id)
    assert server.records(run_id) == local
    assert {r["data"]["rank"] for r in local if r["type"] == "log"} == {0}


NEXT = """
    import sys, threading, time
    import tracker_core as tracker
    run = tracker.init(project="p")
    print("run", run.id, flush=True)
    told = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), told.set()), daemon=True).start()
    step = 0
    while not told.is_set():  # training, until the test says stop
        run.log({"loss": 1.0 / (step + 1)})
        step += 1
        time.sleep(0.01)
    run.finish()
    print("finished", flush=True)
"""


def test_the_next_online_run_completes_an_upload_a_kill_left_undone(
        tmp_path: Path, store: Path, server: TeamServer) -> None:
    with Child(tmp_path, KILLED, env=online_env(server)) as child:
        killed = child.expect("run ").split()[1]
        wait_for(lambda: len(server.records(killed)) > 500)
        assert server.proc is not None
        os.killpg(server.proc.pid, signal.SIGSTOP)  # frozen: what the child logs from now on cannot be sent
        try:
            logged = len(local_records(store, killed))
            wait_for(lambda: len(local_records(store, killed)) > logged + 500)
            child.kill()
        finally:
            os.killpg(server.proc.pid, signal.SIGCONT)
    local = local_records(store, killed)
    assert settled_count(server, killed) < len(local)  # a batch in flight at the freeze may still land
    with Child(tmp_path, NEXT, env=online_env(server), name="next.py") as child:
        following = child.expect("run ").split()[1]
        wait_for(lambda: server.records(killed) == local, timeout=90)  # completed by the next run, once
        child.send("stop")
        child.expect("finished", timeout=120)
        assert child.wait() == 0
    assert server.records(following) == local_records(store, following)
    assert server.records(killed) == local
    again = run_command([*TRACKER, "sync", str(store)], env=online_env(server))
    assert "synced 0 runs" in again.stdout, again.stdout

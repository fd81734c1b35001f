"""Real agents in real processes against a real team server (SQLite and PostgreSQL): a grid of 12 points
across 3 agents on two "machines" (two store folders), each trial an online run on the server with its
parameters as config; ``run_cap`` across agents; the server SIGKILLed and restarted mid-sweep while the
agents wait; an agent SIGKILLed mid-trial; cancel stopping a running trial; the sweep commands; another
team's key gets a 404."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from _server import Server, new_key

from tests._procs import child_env, run_command, write_script

pytestmark = pytest.mark.slow

AGENT = """
import sys, time
import tracker_core

def train():
    with tracker_core.init() as run:
        for i in range(3):
            run.log({"loss": float(run.config["a"]) + run.config["b"] + i})
            time.sleep(float(sys.argv[2]))

tracker_core.agent(sys.argv[1], function=train)
"""
TRAIN = """
import tracker_core

with tracker_core.init() as run:
    run.log({"loss": float(run.config["a"] + run.config["b"])})
"""
_GRID = {"method": "grid", "metric": {"name": "loss"},
         "parameters": {"a": {"values": [1, 2, 3]}, "b": {"distribution": "int_uniform", "min": 0, "max": 3}}}


def _env(server: Server, key: str, store: Path, **extra: str) -> dict[str, str]:
    return child_env(TRACKER_SERVER=server.url, TRACKER_API_KEY=key, TRACKER_DIR=str(store), **extra)


def _create(tmp_path: Path, env: dict[str, str], config: dict[str, Any], project: str) -> str:
    path = tmp_path / "sweep.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    made = run_command([sys.executable, "-m", "tracker_core.cli", "sweep", str(path), "-p", project, "--json"],
                       env=env, timeout=60)
    assert made.returncode == 0, made.stderr
    created: str = json.loads(made.stdout)["path"]
    assert created.startswith(f"research/{project}/")
    return created


def _agents(tmp_path: Path, sweep: str, envs: list[dict[str, str]], pause: float) -> list[subprocess.Popen[bytes]]:
    script = write_script(tmp_path, AGENT, "agent.py")
    return [subprocess.Popen([sys.executable, str(script), sweep, str(pause)], env=env, cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for env in envs]


def _wait(procs: list[subprocess.Popen[bytes]], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    for proc in procs:
        _, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert proc.returncode == 0, err.decode()


def _trials(server: Server, key: str, sweep: str) -> list[dict[str, Any]]:
    with server.client(key) as client:
        answer = client.get(f"/api/v1/sweeps/{sweep}/trials")
        assert answer.status_code == 200, answer.text
        trials: list[dict[str, Any]] = answer.json()["trials"]
        return trials


def test_a_grid_of_12_points_across_3_agents_on_two_machines_runs_each_point_once(server: Server,
                                                                                 tmp_path: Path) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    machine_a, machine_b = _env(server, key, tmp_path / "a"), _env(server, key, tmp_path / "b")
    sweep = _create(tmp_path, machine_a, _GRID, "grid")
    _wait(_agents(tmp_path, sweep, [machine_a, machine_a, machine_b], 0.05))
    trials = _trials(server, key, sweep)
    points = [(t["params"]["a"], t["params"]["b"]) for t in trials]
    assert len(points) == 12 and set(points) == {(a, b) for a in (1, 2, 3) for b in range(4)}
    assert {t["state"] for t in trials} == {"finished"}
    assert {t["value"] for t in trials} == {a + b + 2.0 for a, b in points}
    assert len({t["agent"]["pid"] for t in trials}) >= 2  # the agents really shared the work
    with server.client(key) as client:
        runs = client.get("/api/v1/runs/research/grid").json()["runs"]
        assert client.get(f"/api/v1/sweeps/{sweep}").json()["state"] == "finished"
    assert len(runs) == 12 and {r["state"] for r in runs} == {"finished"}
    by_id = {r["id"]: r for r in runs}
    for trial in trials:
        run = by_id[trial["run_id"]]
        assert {k: run["config"][k] for k in ("a", "b")} == trial["params"]
        assert run["group"] == sweep.rsplit("/", 1)[1]
    assert (tmp_path / "a" / "grid").is_dir() and (tmp_path / "b" / "grid").is_dir()  # both machines ran trials


def test_run_cap_holds_across_agents_on_two_machines(server: Server, tmp_path: Path) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    machine_a, machine_b = _env(server, key, tmp_path / "a"), _env(server, key, tmp_path / "b")
    config = {"method": "random", "run_cap": 5, "parameters": {"a": {"min": 0.0, "max": 1.0}, "b": {"value": 1}}}
    sweep = _create(tmp_path, machine_a, config, "cap")
    _wait(_agents(tmp_path, sweep, [machine_a, machine_b, machine_b], 0.05))
    trials = _trials(server, key, sweep)
    assert len(trials) == 5 and {t["state"] for t in trials} == {"finished"}
    assert all(0.0 <= t["params"]["a"] <= 1.0 and t["params"]["b"] == 1 for t in trials)


def test_the_server_killed_and_restarted_mid_sweep_the_agents_wait_and_the_sweep_completes(
        server: Server, tmp_path: Path) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    envs = [_env(server, key, tmp_path / name, TRACKER_SYNC_TIMEOUT="5") for name in ("a", "a", "b")]
    sweep = _create(tmp_path, envs[0], _GRID, "restart")
    procs = _agents(tmp_path, sweep, envs, 0.3)
    deadline = time.monotonic() + 60
    while len(_trials(server, key, sweep)) < 4:
        assert time.monotonic() < deadline, "no trials were claimed"
        time.sleep(0.1)
    server.kill()  # SIGKILL, mid-trial and mid-claim
    time.sleep(3.0)
    assert all(proc.poll() is None for proc in procs)  # the agents wait
    server.start()
    _wait(procs)
    trials = _trials(server, key, sweep)
    points = [(t["params"]["a"], t["params"]["b"]) for t in trials]
    assert len(points) == 12 and len(set(points)) == 12
    assert {t["state"] for t in trials} == {"finished"}


def test_another_teams_key_cannot_run_or_read_the_sweep(server: Server, tmp_path: Path) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    outsider = new_key(server.data, "vision", "other", "admin", db=server.db)
    sweep = _create(tmp_path, _env(server, key, tmp_path / "a"), _GRID, "grid")
    refused = run_command([sys.executable, "-m", "tracker_core.cli", "agent", sweep],
                          env=_env(server, outsider, tmp_path / "b"), timeout=60)
    assert refused.returncode != 0
    assert "404" in refused.stderr and "no such entity" in refused.stderr
    assert _trials(server, key, sweep) == []


def _tracker(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_command([sys.executable, "-m", "tracker_core.cli", *args], env=env, timeout=60, cwd=cwd)


def test_the_sweep_commands_control_and_list_a_server_sweep(server: Server, tmp_path: Path) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    env = _env(server, key, tmp_path / "a")
    write_script(tmp_path, TRAIN, "train.py")
    sweep = _create(tmp_path, env, {**_GRID, "program": "train.py"}, "ctl")
    paused = _tracker(env, "sweep", "pause", sweep, "--json")
    assert paused.returncode == 0, paused.stderr
    assert json.loads(paused.stdout)["state"] == "paused"
    with server.client(key) as client:
        assert client.get(f"/api/v1/sweeps/{sweep}").json()["state"] == "paused"
    assert json.loads(_tracker(env, "sweep", "resume", sweep, "--json").stdout)["state"] == "running"
    ran = _tracker(env, "agent", sweep, "--count", "2", cwd=tmp_path)  # command trials: python train.py --a=1 ...
    assert ran.returncode == 0, ran.stderr
    status = json.loads(_tracker(env, "sweep", "status", sweep, "--json").stdout)
    assert status["trials"] == {"finished": 2} and status["method"] == "grid"
    assert status["best"]["value"] == 1.0 and status["best"]["params"] == {"a": 1, "b": 0}
    with server.client(key) as client:
        run = client.get(f"/api/v1/runs/research/ctl/{status['best']['run_id']}").json()
    assert run["state"] == "finished" and run["config"]["a"] == 1 and run["config"]["b"] == 0
    assert json.loads(_tracker(env, "sweep", "stop", sweep, "--json").stdout)["state"] == "finished"
    listed = _tracker(env, "sweeps", "-p", "ctl", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(r["id"], r["state"], r["trials"]) for r in json.loads(listed.stdout)] == [(sweep, "finished", 2)]


def test_an_agent_killed_mid_trial_leaves_its_trial_crashed_and_another_agent_retries_the_point(
        db_url: str | None, tmp_path: Path) -> None:
    server = Server(tmp_path / "server", db=db_url, env={"TRACKER_SERVER_STALE_SLACK": "1"}).start()
    try:
        key = new_key(server.data, "research", "box", db=server.db)
        env = _env(server, key, tmp_path / "a", TRACKER_SYNC_TIMEOUT="2")
        config = {"method": "grid", "parameters": {"a": {"values": [1, 2]}, "b": {"value": 0}}}
        sweep = _create(tmp_path, env, config, "killed")
        slow = _agents(tmp_path, sweep, [env], 30.0)[0]
        deadline = time.monotonic() + 60
        while not any(t["seen_at"] for t in _trials(server, key, sweep)):  # its heartbeats arrive
            assert time.monotonic() < deadline, "the trial never started"
            time.sleep(0.1)
        slow.kill()
        slow.wait(timeout=30)
        time.sleep(5.0)  # silent longer than stale_after(1 s heartbeats) = 3 + 1 s
        retry = write_script(tmp_path, AGENT.replace("function=train)", "function=train, retry_crashed=True)"),
                             "retry.py")
        done = run_command([sys.executable, str(retry), sweep, "0.01"], env=env, timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        trials = _trials(server, key, sweep)
        assert [(t["number"], t["grid_index"], t["state"]) for t in trials] == [
            (0, 0, "crashed"), (1, 0, "finished"), (2, 1, "finished")]
    finally:
        server.kill()


LONG = """
import sys, time
import tracker_core

def train():
    with tracker_core.init() as run:
        for i in range(600):
            run.log({"loss": float(i)})
            time.sleep(0.1)

tracker_core.agent(sys.argv[1], function=train)
"""


def test_cancel_on_the_server_stops_the_running_trial_which_ends_stopped(server: Server, tmp_path: Path) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    env = _env(server, key, tmp_path / "a")
    sweep = _create(tmp_path, env, _GRID, "cancel")
    agent = subprocess.Popen([sys.executable, str(write_script(tmp_path, LONG, "long.py")), sweep], env=env,
                             cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not any(t["seen_at"] for t in _trials(server, key, sweep)):
        assert time.monotonic() < deadline, "the trial never started"
        time.sleep(0.1)
    cancelled = _tracker(env, "sweep", "cancel", sweep, "--json")
    assert cancelled.returncode == 0, cancelled.stderr
    _, err = agent.communicate(timeout=30)  # 60 s of logging, stopped within seconds
    assert agent.returncode == 0, err.decode()
    assert b"no more trials (cancelled)" in err
    [trial] = _trials(server, key, sweep)
    assert trial["state"] == "stopped"
    with server.client(key) as client:
        assert client.get(f"/api/v1/runs/research/cancel/{trial['run_id']}").json()["state"] == "stopped"


def test_a_bayes_sweep_on_the_server_runs_each_configuration_once_across_agents(server: Server,
                                                                                tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    key = new_key(server.data, "research", "box", db=server.db)
    machine_a, machine_b = _env(server, key, tmp_path / "a"), _env(server, key, tmp_path / "b")
    config = {"method": "bayes", "metric": {"name": "loss", "goal": "minimize"},
              "parameters": {"a": {"values": [1, 2, 3]}, "b": {"values": [0, 1]}}}
    sweep = _create(tmp_path, machine_a, config, "bayes")
    _wait(_agents(tmp_path, sweep, [machine_a, machine_b], 0.01))
    trials = _trials(server, key, sweep)
    points = [(t["params"]["a"], t["params"]["b"]) for t in trials]
    assert len(points) == 6 and len(set(points)) == 6
    assert {t["state"] for t in trials} == {"finished"}
    assert {t["value"] for t in trials} == {a + b + 2.0 for a, b in points}


HYPERBAND = """
import sys, time
import tracker_core

def train():
    with tracker_core.init() as run:
        for step in range(8):
            run.log({"val/loss": run.config["quality"] + 1.0 / (step + 1)})
            time.sleep(0.3)  # the watcher reports each value as it arrives

tracker_core.agent(sys.argv[1], function=train)
"""


def test_hyperband_on_the_server_stops_the_bad_half_and_they_end_stopped(server: Server, tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    key = new_key(server.data, "research", "box", db=server.db)
    env = _env(server, key, tmp_path / "a")
    # One Hyperband bracket (max_iter / min_iter < eta): every trial is judged at iterations 2 and 4.
    config = {"method": "grid", "metric": {"name": "val/loss", "goal": "minimize"},
              "early_terminate": {"type": "hyperband", "min_iter": 2, "max_iter": 3, "eta": 2},
              "parameters": {"quality": {"values": [0.0, 5.0, 0.0, 5.0, 0.0, 5.0]}}}
    sweep = _create(tmp_path, env, config, "hb")
    script = write_script(tmp_path, HYPERBAND, "hb.py")
    done = run_command([sys.executable, str(script), sweep], env=env, timeout=170, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    trials = _trials(server, key, sweep)
    good = [t["state"] for t in trials if t["params"]["quality"] == 0.0]
    bad = [t for t in trials if t["params"]["quality"] == 5.0]
    assert good == ["finished"] * 3 and [t["state"] for t in bad] == ["stopped"] * 3
    with server.client(key) as client:
        for trial in trials:
            run = client.get(f"/api/v1/runs/research/hb/{trial['run_id']}").json()
            assert run["state"] == trial["state"]
            history = client.get(f"/api/v1/runs/research/hb/{trial['run_id']}/history",
                                 params={"keys": "val/loss"}).json()
            logged = len(history["series"]["val/loss"]["y"])
            assert logged == 8 if trial["state"] == "finished" else 2 <= logged < 8  # stopped after iteration 2

"""Real agents in real processes sharing one local sweep: a grid handed out once across three agents,
``run_cap`` across agents, an agent SIGKILLed mid-trial, command trials through the CLI with W&B's macros,
the stop/cancel path with SIGTERM after the grace period, and the sweep control commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tracker_core
from tests._procs import Child, child_env, run_command, write_script

pytest.importorskip("optuna")

pytestmark = pytest.mark.slow

AGENT = """
import sys, time
import tracker_core

def train():
    with tracker_core.init() as run:
        print("TRIAL", run.id, flush=True)
        for i in range(3):
            run.log({"loss": float(run.config.get("a", 0)) + i})
            time.sleep(float(sys.argv[2]))

tracker_core.agent(sys.argv[1], function=train)
"""


def _tracker(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return run_command([sys.executable, "-m", "tracker_core.cli", *args], timeout=timeout)


def _wait_all(procs: list[subprocess.Popen[bytes]], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    for proc in procs:
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        assert proc.returncode == 0, proc.returncode


def _agents(tmp_path: Path, sweep_id: str, n: int, pause: float = 0.02) -> list[subprocess.Popen[bytes]]:
    script = write_script(tmp_path, AGENT, "agent.py")
    return [subprocess.Popen([sys.executable, str(script), sweep_id, str(pause)], env=child_env(), cwd=tmp_path,
                             stdout=subprocess.DEVNULL) for _ in range(n)]


def test_a_grid_of_12_points_across_3_agent_processes_runs_each_point_once(tmp_path: Path) -> None:
    config = {"method": "grid", "metric": {"name": "loss"},
              "parameters": {"a": {"values": [1, 2, 3]}, "b": {"distribution": "int_uniform", "min": 0, "max": 3}}}
    sweep_id = tracker_core.sweep(sweep=config, project="grid")
    _wait_all(_agents(tmp_path, sweep_id, 3))
    trials = tracker_core.controller(sweep_id).trials()
    points = [(t.params["a"], t.params["b"]) for t in trials]
    assert len(points) == 12 and len(set(points)) == 12
    assert set(points) == {(a, b) for a in (1, 2, 3) for b in range(4)}
    assert len({t.agent["pid"] for t in trials}) >= 2  # the agents really shared the work
    runs = tracker_core.Api().runs("grid")
    assert len(runs) == 12 and {r.state for r in runs} == {"finished"}
    assert {(r.config["a"], r.config["b"]) for r in runs} == set(points)
    assert tracker_core.controller(sweep_id).state() == "finished"


def test_run_cap_holds_across_agents(tmp_path: Path) -> None:
    config = {"method": "random", "run_cap": 5, "parameters": {"a": {"min": 0.0, "max": 1.0}}}
    sweep_id = tracker_core.sweep(sweep=config, project="cap")
    _wait_all(_agents(tmp_path, sweep_id, 3))
    assert len(tracker_core.controller(sweep_id).trials()) == 5
    assert len(tracker_core.Api().runs("cap")) == 5


def test_an_agent_killed_mid_trial_leaves_its_run_crashed_and_the_sweep_goes_on(tmp_path: Path) -> None:
    config = {"method": "grid", "parameters": {"a": {"values": [1, 2, 3]}}}
    sweep_id = tracker_core.sweep(sweep=config, project="kill")
    child = Child(tmp_path, AGENT, sweep_id, "30", name="agent.py")
    try:
        line = child.expect("TRIAL")
        killed_run = line.split()[1]
        time.sleep(0.3)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        child.close()
    assert tracker_core.Api().run(f"kill/{killed_run}").state == "crashed"
    _wait_all(_agents(tmp_path, sweep_id, 1))  # a new agent reaps the dead one's trial and finishes the grid
    trials = tracker_core.controller(sweep_id).trials()
    assert [t.state for t in trials] == ["crashed", "finished", "finished"]
    assert trials[0].run_id == killed_run
    assert sorted(t.params["a"] for t in trials) == [1, 2, 3]
    store = tracker_core.controller(sweep_id).store
    store.set_state(sweep_id, "running")  # the grid was done; reopen it to ask again
    assert tracker_core.agent(sweep_id, function=lambda: None) == 0  # crashed points are not retried by default
    store.set_state(sweep_id, "running")

    def train() -> None:
        with tracker_core.init() as run:
            run.log({"loss": 0.0})

    assert tracker_core.agent(sweep_id, function=train, retry_crashed=True) == 1  # --retry-crashed
    trials = tracker_core.controller(sweep_id).trials()
    assert [t.state for t in trials] == ["crashed", "finished", "finished", "finished"]
    assert trials[3].params == trials[0].params and trials[3].run_id != killed_run


TRAIN = """
import argparse
import tracker_core

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float)
parser.add_argument("--layers", type=int)
args = parser.parse_args()
run = tracker_core.init(config={"lr": 99.0, "epochs": 2})
run.config.update({"lr": 123.0})  # a sweep parameter: ignored with a warning
assert [args.lr, args.layers] == [run.config.lr, run.config.layers], (args, dict(run.config.items()))
for step in range(4):
    run.log({"acc": args.lr * args.layers + step})
run.finish()
"""


def test_tracker_sweep_and_agent_run_the_config_command_with_its_macros(tmp_path: Path) -> None:
    write_script(tmp_path, TRAIN, "train.py")
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(f"""
program: {tmp_path / "train.py"}
method: grid
name: my sweep
metric:
  name: acc
  goal: maximize
parameters:
  lr:
    values: [0.1, 0.2]
  layers:
    value: 3
command: ["${{env}}", "${{interpreter}}", "${{program}}", "${{args}}"]
""")
    created = _tracker("sweep", str(sweep_file), "-p", "cmd", "-e", "research")
    assert created.returncode == 0, created.stderr
    sweep_id = created.stdout.strip()
    assert f"tracker agent research/cmd/{sweep_id}" in created.stderr
    agent = run_command([sys.executable, "-m", "tracker_core.cli", "agent", f"research/cmd/{sweep_id}", "--count",
                         "5"], timeout=120)
    assert agent.returncode == 0, agent.stderr
    assert "--layers=3 --lr=0.1" in agent.stderr and "ran 2 trials" in agent.stderr
    runs = {r.config["lr"]: r for r in tracker_core.Api().runs("cmd")}
    assert set(runs) == {0.1, 0.2}
    for lr, run in runs.items():
        assert run.state == "finished" and run.config == {"lr": lr, "layers": 3, "epochs": 2}
        assert run.group == sweep_id and run.entity == "research"
    status = _tracker("sweep", "status", sweep_id, "--json")
    data = json.loads(status.stdout)
    assert data["state"] == "finished" and data["trials"] == {"finished": 2}
    assert data["best"]["params"]["lr"] == 0.2 and data["best"]["value"] == pytest.approx(0.2 * 3 + 3)
    listed = _tracker("sweeps", "-p", "cmd")
    assert sweep_id in listed.stdout and "my sweep" in listed.stdout


def test_args_json_file_macro_reaches_the_child(tmp_path: Path) -> None:
    write_script(tmp_path, """
import json, sys
import tracker_core
params = json.load(open(sys.argv[sys.argv.index("--params") + 1]))
run = tracker_core.init()
run.log({"m": params["lr"]})
run.summary["from_file"] = params["lr"]
run.finish()
""", "train.py")
    sweep_id = tracker_core.sweep(sweep={"method": "grid", "program": "train.py",
                                         "command": ["${interpreter}", "${program}", "--params", "${args_json_file}"],
                                         "parameters": {"lr": {"values": [0.5]}}}, project="jf")
    result = run_command([sys.executable, "-m", "tracker_core.cli", "agent", sweep_id], cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    (run,) = tracker_core.Api().runs("jf")
    assert run.summary["from_file"] == 0.5 and run.config == {"lr": 0.5}


STUBBORN = """
import signal, sys, time
import tracker_core
run = tracker_core.init()
run.log({"loss": 1.0})
print("STARTED", run.id, flush=True)
time.sleep(60)  # never logs again, never looks at run.should_stop: the agent's SIGTERM ends it
"""


def test_cancel_stops_a_command_trial_and_a_stubborn_one_gets_sigterm_after_the_grace_period(tmp_path: Path) -> None:
    write_script(tmp_path, STUBBORN, "train.py")
    sweep_id = tracker_core.sweep(sweep={"method": "grid", "program": "train.py", "metric": {"name": "loss"},
                                         "parameters": {"a": {"values": [1, 2]}}}, project="cancel")
    env = child_env(TRACKER_AGENT_KILL_DELAY="1")
    agent = subprocess.Popen([sys.executable, "-m", "tracker_core.cli", "agent", sweep_id], env=env, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not tracker_core.Api().runs("cancel") and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        started = time.monotonic()
        assert _tracker("sweep", "cancel", sweep_id).returncode == 0
        _, err = agent.communicate(timeout=60)
        took = time.monotonic() - started
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode == 0, err
    (run,) = tracker_core.Api().runs("cancel")  # cancelled: the second grid point never started
    assert run.state == "stopped"
    assert 1.0 <= took < 20
    assert [t.state for t in tracker_core.controller(sweep_id).trials()] == ["stopped"]
    assert _tracker("sweep", "resume", sweep_id).returncode == 2  # a cancelled sweep stays cancelled


POLITE = """
import time
import tracker_core
with tracker_core.init() as run:
    for step in range(200):
        try:
            run.log({"loss": 1.0 / (step + 1)})
        except BaseException as exc:
            print("RAISED", type(exc).__name__, run.should_stop, flush=True)
            raise
        time.sleep(0.05)
"""


def test_a_stopped_command_trial_raises_run_stopped_at_its_next_log_and_ends_stopped(tmp_path: Path) -> None:
    write_script(tmp_path, POLITE, "train.py")
    sweep_id = tracker_core.sweep(sweep={"method": "grid", "program": "train.py", "metric": {"name": "loss"},
                                         "parameters": {"a": {"values": [1]}}}, project="polite")
    agent = subprocess.Popen([sys.executable, "-m", "tracker_core.cli", "agent", sweep_id],
                             env=child_env(TRACKER_AGENT_KILL_DELAY="30"), cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not tracker_core.Api().runs("polite") and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        started = time.monotonic()
        assert _tracker("sweep", "cancel", sweep_id).returncode == 0
        out, _ = agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert "RAISED RunStopped True" in out
    assert time.monotonic() - started < 15  # it stopped at its next log(), long before the 30 s grace period
    (run,) = tracker_core.Api().runs("polite")
    assert run.state == "stopped" and len(run.history()) < 200


def test_pause_resume_and_stop(tmp_path: Path) -> None:
    sweep_id = tracker_core.sweep(sweep={"method": "random", "parameters": {"a": {"min": 0.0, "max": 1.0}}},
                                  project="ctl")
    assert _tracker("sweep", "pause", sweep_id).returncode == 0
    agent = Child(tmp_path, AGENT, sweep_id, "0.01", name="agent.py")
    try:
        time.sleep(2.0)
        assert tracker_core.controller(sweep_id).trials() == []  # paused: the agent waits
        assert _tracker("sweep", "resume", sweep_id).returncode == 0
        agent.expect("TRIAL")
        assert _tracker("sweep", "stop", sweep_id).returncode == 0  # no new trials; the running one finishes
        assert agent.wait(60) == 0
    finally:
        agent.close()
    trials = tracker_core.controller(sweep_id).trials()
    assert trials and {t.state for t in trials} == {"finished"}
    assert json.loads(_tracker("sweep", "status", sweep_id, "--json").stdout)["state"] == "finished"
    unknown = _tracker("sweep", "status", "nosuchid")
    assert unknown.returncode == 2 and "no sweep 'nosuchid'" in unknown.stderr


def test_a_command_trial_dies_with_its_killed_agent_and_ends_killed(tmp_path: Path) -> None:
    write_script(tmp_path, STUBBORN, "train.py")
    sweep_id = tracker_core.sweep(sweep={"method": "grid", "program": "train.py",
                                         "parameters": {"a": {"values": [1, 2]}}}, project="orphan")
    agent = subprocess.Popen([sys.executable, "-m", "tracker_core.cli", "agent", sweep_id], env=child_env(),
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert agent.stdout is not None
        line = agent.stdout.readline()  # the child's STARTED line (the child shares the agent's stdout)
        assert line.startswith("STARTED"), line
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(timeout=30)
    finally:
        if agent.poll() is None:
            agent.kill()
    run_id = line.split()[1]
    deadline = time.monotonic() + 30
    while tracker_core.Api().run(f"orphan/{run_id}").state == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert tracker_core.Api().run(f"orphan/{run_id}").state == "killed"  # SIGTERM from the parent-death signal
    assert tracker_core.controller(sweep_id).next_trial().trial is not None  # the next agent goes on
    assert tracker_core.controller(sweep_id).trials()[0].state == "crashed"


def test_bayes_across_3_agent_processes_never_runs_a_configuration_twice(tmp_path: Path) -> None:
    config = {"method": "bayes", "metric": {"name": "loss", "goal": "minimize"},
              "parameters": {"a": {"values": [1, 2, 3]}, "b": {"values": ["x", "y"]}}}
    sweep_id = tracker_core.sweep(sweep=config, project="bayes3")
    _wait_all(_agents(tmp_path, sweep_id, 3))
    trials = tracker_core.controller(sweep_id).trials()
    configs = [(t.params["a"], t.params["b"]) for t in trials]
    assert len(configs) == 6 and set(configs) == {(a, b) for a in (1, 2, 3) for b in "xy"}
    assert {t.state for t in trials} == {"finished"}
    assert tracker_core.controller(sweep_id).state() == "finished"


def test_an_uncaught_run_stopped_in_a_plain_script_ends_the_run_stopped(tmp_path: Path, store: Path) -> None:
    """The child's side of the protocol alone: the trial file the agent writes, then its stop file."""
    stop = tmp_path / "stop"
    trial = {"sweep_id": "abcd1234", "number": 0, "run_id": "trialrun0001", "project": "plain", "entity": None,
             "dir": str(store), "params": {"lr": 0.5}, "stop_file": str(stop)}
    (tmp_path / "trial.json").write_text(json.dumps(trial))
    script = write_script(tmp_path, """
import time
import tracker_core
run = tracker_core.init()
print("LR", run.config.lr, flush=True)
for step in range(300):
    run.log({"loss": 1.0})
    time.sleep(0.05)
""", "plain.py")
    child = subprocess.Popen([sys.executable, str(script)], env=child_env(TRACKER_SWEEP_TRIAL=str(tmp_path /
                             "trial.json")), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "LR 0.5"
        stop.write_text("stopped by the test")
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 1 and "RunStopped: run trialrun0001 was asked to stop: stopped by the test" in err
    run = tracker_core.Api().run("plain/trialrun0001")
    assert run.state == "stopped" and run.group == "abcd1234" and run.config == {"lr": 0.5}
    assert len(run.history()) < 300


def test_a_command_that_cannot_start_fails_its_trials_and_the_agent_goes_on(tmp_path: Path) -> None:
    sweep_id = tracker_core.sweep(sweep={"method": "grid", "command": ["/nonexistent/trainer", "${args}"],
                                         "parameters": {"a": {"values": [1, 2]}}}, project="bad")
    result = _tracker("agent", sweep_id)
    assert result.returncode == 0 and "cannot start '/nonexistent/trainer'" in result.stderr
    assert [t.state for t in tracker_core.controller(sweep_id).trials()] == ["failed", "failed"]


def test_an_unreadable_trial_file_is_a_clear_settings_error(tmp_path: Path) -> None:
    env = {**os.environ, "TRACKER_SWEEP_TRIAL": str(tmp_path / "missing.json"), "TRACKER_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", "import tracker_core; tracker_core.init(project='p')"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "SettingsError: invalid TRACKER_SWEEP_TRIAL" in done.stderr and "tracker agent" in done.stderr

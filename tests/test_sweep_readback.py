"""Reading a sweep back: ``Api().sweep(id)`` (its config, state, trial runs as ``Api().runs`` gives them,
``best_run()`` by the sweep's metric and goal or a W&B order) and ``tracker best --sweep``, over sweeps run by
real agent processes, in the local store and on a real team server (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from _server import Server, new_key

import tracker_core
from tests._procs import child_env, run_command, write_script
from tracker_core.api import StoredRun
from tracker_core.sweeps._errors import SweepNotFoundError

pytest.importorskip("optuna")

pytestmark = pytest.mark.slow

AGENT = """
import sys
import tracker_core

def train():
    with tracker_core.init() as run:
        for i in range(3):
            acc = run.config["a"] * 10 + run.config["b"] - 2 + i  # the last value is the best one
            run.log({"acc": acc, "loss": -acc})

tracker_core.agent(sys.argv[1], function=train)
"""
CONFIG = {"method": "grid", "name": "a <b>grid</b>", "metric": {"name": "acc", "goal": "maximize"},
          "parameters": {"a": {"values": [1, 2, 3]}, "b": {"values": [0, 1]}}}


def _run_agents(tmp_path: Path, sweep: str, envs: list[dict[str, str]]) -> None:
    script = write_script(tmp_path, AGENT, "agent.py")
    procs = [subprocess.Popen([sys.executable, str(script), sweep], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for env in envs]
    deadline = time.monotonic() + 180
    for proc in procs:
        _, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert proc.returncode == 0, err.decode()


def _point(run: Any) -> tuple[int, int]:
    return run.config["a"], run.config["b"]


def _tracker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_command([sys.executable, "-m", "tracker_core.cli", *args], env=env, timeout=120)


def test_a_local_sweep_reads_back_with_its_trial_runs_and_best_run(tmp_path: Path) -> None:
    sweep_id = tracker_core.sweep(sweep=CONFIG, project="grid")
    with tracker_core.init(project="grid", name="not-a-trial") as outsider:  # same project, better acc, no sweep
        outsider.log({"acc": 1000.0, "loss": -1000.0})
    _run_agents(tmp_path, sweep_id, [child_env(), child_env()])
    sweep = tracker_core.Api().sweep(sweep_id)
    assert (sweep.id, sweep.project, sweep.state, sweep.method) == (sweep_id, "grid", "finished", "grid")
    assert sweep.config == CONFIG and sweep.name == "a <b>grid</b>" and sweep.counts == {"finished": 6}
    assert sweep.expected_run_count == 6 and sweep.order == "-summary_metrics.acc"
    assert all(type(run) is StoredRun for run in sweep.runs)
    assert [run.id for run in sweep.runs] == [trial.run_id for trial in sweep.trials]  # by trial number
    assert sorted(_point(run) for run in sweep.runs) == [(a, b) for a in (1, 2, 3) for b in (0, 1)]
    listed = {run.id: run for run in tracker_core.Api().runs("grid")}
    assert all(run.summary == listed[run.id].summary and run.state == "finished" for run in sweep.runs)
    assert _point(sweep.best_run()) == (3, 1)  # maximize acc, the outsider left out
    assert _point(sweep.best_run(order="+acc")) == (1, 0)
    assert _point(sweep.best_run(order="+summary_metrics.loss")) == (3, 1)
    assert sweep.best_run(order="-never_logged") is None
    assert tracker_core.Api().sweep(f"grid/{sweep_id}").id == sweep_id
    with pytest.raises(SweepNotFoundError):
        tracker_core.Api().sweep(f"other/{sweep_id}")
    with pytest.raises(SweepNotFoundError):
        tracker_core.Api().sweep("nosuchid")

    chosen = _tracker("best", "--sweep", sweep_id, "--json")  # the sweep's metric and goal
    assert chosen.returncode == 0, chosen.stderr
    answer = json.loads(chosen.stdout)
    assert (answer["metric"], answer["goal"], answer["value"], answer["runs_compared"]) == ("acc", "max", 31, 6)
    assert _point(tracker_core.Api().run(answer["id"])) == (3, 1)
    lowest = json.loads(_tracker("best", "acc", "--sweep", sweep_id, "--goal", "min", "--json").stdout)
    assert lowest["value"] == 8 and _point(tracker_core.Api().run(lowest["id"])) == (1, 0)  # the best over history
    loss = json.loads(_tracker("best", "loss", "--sweep", f"grid/{sweep_id}", "-f", "config.a<3", "--json").stdout)
    assert loss["goal"] == "min" and loss["runs_compared"] == 4 and loss["value"] == -21
    text = _tracker("best", "--sweep", sweep_id)
    assert text.returncode == 0 and f"over 6 runs of sweep grid/{sweep_id}: 31" in text.stdout
    missing = _tracker("best", "--sweep", "nosuchid")
    assert missing.returncode == 2 and "no sweep 'nosuchid'" in missing.stderr


def test_a_sweep_without_a_metric_returns_its_newest_run_with_a_warning() -> None:
    config = {"method": "grid", "parameters": {"a": {"values": [1, 2]}, "b": {"value": 0}}}
    sweep_id = tracker_core.sweep(sweep=config, project="nometric")

    def train() -> None:
        with tracker_core.init() as run:
            run.log({"acc": float(run.config["a"])})
            time.sleep(0.01)

    assert tracker_core.agent(sweep_id, function=train) == 2
    sweep = tracker_core.Api().sweep(sweep_id)
    assert sweep.order is None and len(sweep.runs) == 2
    with pytest.warns(tracker_core.TrackerWarning, match="has no metric"):
        assert sweep.best_run() is sweep.runs[-1]
    assert _point(sweep.best_run("acc")) == (2, 0)  # W&B's bare key: a summary metric, descending
    refused = _tracker("best", "--sweep", sweep_id)
    assert refused.returncode == 2 and "names none" in refused.stderr


def test_a_server_sweep_reads_back_through_the_api_and_tracker_best(server: Server, tmp_path: Path) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    outsider = new_key(server.data, "vision", "other", "admin", db=server.db)
    env = child_env(TRACKER_SERVER=server.url, TRACKER_API_KEY=key, TRACKER_DIR=str(tmp_path / "a"))
    made = _tracker("sweep", str(_yaml(tmp_path)), "-p", "grid", "--json", env=env)
    assert made.returncode == 0, made.stderr
    path = json.loads(made.stdout)["path"]
    _run_agents(tmp_path, path, [env, {**env, "TRACKER_DIR": str(tmp_path / "b")}])

    api = tracker_core.Api(server=server.url, api_key=key)
    sweep = api.sweep(path)
    assert (sweep.entity, sweep.project, sweep.state, sweep.config) == ("research", "grid", "finished", CONFIG)
    assert sweep.path == path and sweep.counts == {"finished": 6}
    assert [run.id for run in sweep.runs] == [trial.run_id for trial in sweep.trials]
    assert {type(run).__name__ for run in sweep.runs} == {"RemoteRun"}
    assert sorted(_point(run) for run in sweep.runs) == [(a, b) for a in (1, 2, 3) for b in (0, 1)]
    assert _point(sweep.best_run()) == (3, 1) and _point(sweep.best_run("+acc")) == (1, 0)
    assert api.sweep(path.split("/", 1)[1]).id == sweep.id  # the key's only team
    with pytest.raises(SweepNotFoundError):
        tracker_core.Api(server=server.url, api_key=outsider).sweep(path)

    chosen = _tracker("best", "--sweep", path, "--json", env=env)
    assert chosen.returncode == 0, chosen.stderr
    answer = json.loads(chosen.stdout)
    assert (answer["metric"], answer["goal"], answer["value"], answer["runs_compared"]) == ("acc", "max", 31, 6)
    assert _point(api.run(f"research/grid/{answer['id']}")) == (3, 1)
    short = _tracker("best", "loss", "--sweep", sweep.id, "-p", "research/grid", "--json", env=env)
    assert short.returncode == 0, short.stderr
    assert json.loads(short.stdout)["value"] == -31
    refused = _tracker("best", "--sweep", path, env={**env, "TRACKER_API_KEY": outsider})
    assert refused.returncode == 2 and "no sweep" in refused.stderr


def _yaml(tmp_path: Path) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(json.dumps(CONFIG))  # JSON is YAML
    return path

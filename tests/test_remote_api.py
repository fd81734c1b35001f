"""``Api(server=...)`` and ``tracker best/runs --server``: the local interface, answered by the real team server.

Runs are made online in this process (the uploader streams them during ``finish()``), then read back
through the server's read API and compared with what the local store says about the same runs.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _procs import child_env, run_command
from _server import new_key
from _team import TeamServer

import tracker_core
from tracker_core import RunNotFoundError
from tracker_core.sync import ServerError
from tracker_core.sync._remote import RemoteRun

pytestmark = pytest.mark.slow

TRACKER = [sys.executable, "-m", "tracker_core.cli"]


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamServer]:
    server = TeamServer(tmp_path_factory.mktemp("team") / "server").start()
    yield server
    server.kill()


@pytest.fixture
def online(team: TeamServer, monkeypatch: pytest.MonkeyPatch) -> TeamServer:
    monkeypatch.setenv("TRACKER_SERVER", team.url)
    monkeypatch.setenv("TRACKER_API_KEY", team.key)
    return team


def make_runs(project: str) -> list[Any]:
    runs = []
    for lr, acc in ((1e-4, 0.7), (3e-4, 0.9), (1e-2, 0.8)):
        run = tracker_core.init(project=project, entity="research", config={"lr": lr, "opt": {"name": "adam"}})
        for step in range(50):
            run.log({"loss": lr * 1000 / (step + 1), "spiky": float("nan") if step == 7 else float(step)})
        run.summary["acc"] = acc
        run.summary["unstable"] = float("inf")
        run.finish()
        runs.append(run)
    return runs


def test_runs_are_filtered_ordered_and_decoded_by_the_server(online: TeamServer) -> None:
    made = make_runs("listing")
    api = tracker_core.Api(server=online.url)
    assert "research/listing" in api.projects()
    found = api.runs("research/listing", filters="config.lr<1e-3", order="-summary.acc")
    assert [run.id for run in found] == [made[1].id, made[0].id]
    assert all(isinstance(run, RemoteRun) and isinstance(run, tracker_core.StoredRun) for run in found)
    same = api.runs("listing", filters={"config.lr": {"$lt": 1e-3}}, order="-summary.acc")  # the key's only team
    assert [run.id for run in same] == [run.id for run in found]
    run = api.run(f"research/listing/{made[1].id}")
    local = tracker_core.Api().run(f"listing/{made[1].id}")
    assert run.status == local.status == "finished"
    assert run.config == local.config == {"lr": 3e-4, "opt": {"name": "adam"}}
    assert run.summary["acc"] == 0.9 and run.summary["unstable"] == math.inf  # {"$f": "inf"} decoded
    assert run.path == f"research/listing/{made[1].id}"


def test_history_from_the_server_is_the_full_history(online: TeamServer) -> None:
    run = tracker_core.init(project="history", entity="research")
    for step in range(5000):
        run.log({"loss": 1.0 / (step + 1), "spiky": float("nan") if step % 1000 == 0 else 0.5})
    run.finish()
    remote = tracker_core.Api(server=online.url).run(f"research/history/{run.id}").history(keys=["loss", "spiky"])
    local = tracker_core.Api().run(f"history/{run.id}").history(keys=["loss", "spiky"])
    assert len(remote) == len(local) == 5000  # never sampled
    for mine, theirs in zip(local, remote, strict=True):
        assert theirs["_step"] == mine["_step"] and theirs["loss"] == mine["loss"]
        assert theirs["spiky"] == mine["spiky"] or (math.isnan(theirs["spiky"]) and math.isnan(mine["spiky"]))


def test_best_from_the_server_is_the_local_best(online: TeamServer) -> None:
    make_runs("best")
    remote = tracker_core.Api(server=online.url).best("research/best", "loss", goal="min")
    local = tracker_core.Api().best("best", "loss", goal="min")
    assert remote is not None and local is not None
    assert (remote.run.id, remote.value, remote.step) == (local.run.id, local.value, local.step)
    assert tracker_core.Api(server=online.url).best("research/best", "no/such/metric") is None


def test_edits_go_to_the_server(online: TeamServer) -> None:
    (run, *_) = make_runs("edits")
    remote = tracker_core.Api(server=online.url).run(f"research/edits/{run.id}")
    remote.update(tags=["phase-2"], notes="diverged")
    again = tracker_core.Api(server=online.url).run(f"research/edits/{run.id}")
    assert again.tags == ["phase-2"] and again.notes == "diverged"


def test_a_wrong_key_is_refused_with_a_hint(online: TeamServer) -> None:
    with pytest.raises(ServerError, match=r"(?s)HTTP 401.*Hint: the API key is missing, wrong or revoked") as raised:
        tracker_core.Api(server=online.url, api_key="trk_not-a-key").runs("research/p")
    assert "trk_not-a-key" not in str(raised.value)


def test_another_teams_run_is_not_found(online: TeamServer) -> None:
    (run, *_) = make_runs("private")
    outsider = new_key(online.data, "other-team", "intruder")
    api = tracker_core.Api(server=online.url, api_key=outsider)
    with pytest.raises(RunNotFoundError):
        api.run(f"research/private/{run.id}")
    assert api.projects() == []


def test_tracker_best_and_runs_ask_the_configured_server_unless_local(online: TeamServer, store: Path) -> None:
    made = make_runs("cli")
    env = child_env()
    best = run_command([*TRACKER, "best", "loss", "-p", "research/cli", "--json"], env=env)
    assert best.returncode == 0, best.stderr
    assert json.loads(best.stdout)["id"] == made[0].id
    listed = run_command([*TRACKER, "runs", "-p", "research/cli", "--filter", "config.lr<1e-3", "--sort",
                          "-summary.acc", "--json"], env=env)
    assert listed.returncode == 0, listed.stderr
    assert [row["id"] for row in json.loads(listed.stdout)] == [made[1].id, made[0].id]
    local = run_command([*TRACKER, "runs", "-p", "cli", "--local", "--json"], env=env)
    assert local.returncode == 0, local.stderr
    assert {row["id"] for row in json.loads(local.stdout)} == {run.id for run in made}
    offline = {k: v for k, v in env.items() if k not in ("TRACKER_SERVER", "TRACKER_API_KEY")}
    explicit = run_command([*TRACKER, "best", "loss", "-p", "research/cli", "--server", online.url, "--json"],
                           env={**offline, "TRACKER_API_KEY": online.key})
    assert explicit.returncode == 0, explicit.stderr
    assert json.loads(explicit.stdout)["id"] == made[0].id

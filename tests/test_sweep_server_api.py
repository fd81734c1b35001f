"""Sweeps on the team server's API: claims in parallel never share a grid point, run_cap holds, bad
configs are refused with the key path, state changes, and another team's sweep is a 404."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from _server import Server, new_key

pytestmark = pytest.mark.slow

_GRID = {"method": "grid", "parameters": {"lr": {"values": [0.1, 0.01, 0.001]}, "layers": {"values": [1, 2, 3, 4]}}}


def _claim_all(server: Server, key: str, sweep_id: str) -> list[dict[str, Any]]:
    with server.client(key) as client:
        got = []
        while True:
            answer = client.post(f"/api/v1/sweeps/research/p/{sweep_id}/claim", json={"agent": {"pid": 1}})
            assert answer.status_code == 200, answer.text
            trial = answer.json()["trial"]
            if trial is None:
                return got
            got.append(trial)


def test_parallel_claims_hand_out_each_grid_point_once(server: Server) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    with server.client(key) as client:
        created = client.post("/api/v1/sweeps/research/p", json={"config": _GRID, "seed": 7})
        assert created.status_code == 201, created.text
        sweep_id = created.json()["id"]
    with ThreadPoolExecutor(6) as pool:
        claimed = [t for part in pool.map(lambda _: _claim_all(server, key, sweep_id), range(6)) for t in part]
    assert len(claimed) == 12
    assert sorted(t["grid_index"] for t in claimed) == list(range(12))
    assert len({(t["params"]["lr"], t["params"]["layers"]) for t in claimed}) == 12
    with server.client(key) as client:
        sweep = client.get(f"/api/v1/sweeps/research/p/{sweep_id}").json()
        assert sweep["state"] == "finished" and sweep["counts"] == {"running": 12}
        ended = client.post(f"/api/v1/sweeps/research/p/{sweep_id}/trials/3/end", json={"state": "finished",
                                                                                       "value": 0.5})
        assert ended.json()["state"] == "finished" and ended.json()["value"] == 0.5
        again = client.post(f"/api/v1/sweeps/research/p/{sweep_id}/trials/3/end", json={"state": "crashed"})
        assert again.json()["state"] == "finished"  # the first end counts
        trials = client.get(f"/api/v1/sweeps/research/p/{sweep_id}/trials").json()["trials"]
        assert [t["number"] for t in trials] == list(range(12))
        assert client.get("/api/v1/sweeps/research/p").json()["sweeps"][0]["id"] == sweep_id


def test_a_claim_retried_with_its_token_gets_the_same_trial(server: Server) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    with server.client(key) as client:
        sweep_id = client.post("/api/v1/sweeps/research/p", json={"config": _GRID}).json()["id"]
        url = f"/api/v1/sweeps/research/p/{sweep_id}/claim"
        first = client.post(url, json={"token": "agent-1-claim-1"}).json()["trial"]
        again = client.post(url, json={"token": "agent-1-claim-1"}).json()["trial"]
        other = client.post(url, json={"token": "agent-2-claim-1"}).json()["trial"]
        assert again == first and other["number"] == first["number"] + 1
        assert client.post(url, json={"token": "bad token!"}).status_code == 400


def test_run_cap_holds_across_parallel_claims_and_states_change(server: Server) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    config = {"method": "random", "run_cap": 5, "parameters": {"lr": {"min": 0.001, "max": 0.1}}}
    with server.client(key) as client:
        sweep_id = client.post("/api/v1/sweeps/research/p", json={"config": config}).json()["id"]
        assert client.put(f"/api/v1/sweeps/research/p/{sweep_id}/state", json={"state": "paused"}).status_code == 200
        paused = client.post(f"/api/v1/sweeps/research/p/{sweep_id}/claim", json={}).json()
        assert paused == {"trial": None, "reason": "paused"}
        assert client.put(f"/api/v1/sweeps/research/p/{sweep_id}/state", json={"state": "running"}).status_code == 200
    with ThreadPoolExecutor(4) as pool:
        claimed = [t for part in pool.map(lambda _: _claim_all(server, key, sweep_id), range(4)) for t in part]
    assert len(claimed) == 5 and all(0.001 <= t["params"]["lr"] <= 0.1 for t in claimed)
    with server.client(key) as client:
        refused = client.put(f"/api/v1/sweeps/research/p/{sweep_id}/state", json={"state": "running"})
        assert refused.status_code == 409 and refused.json()["error"] == "sweep_ended"


def test_bad_configs_are_refused_and_other_teams_get_404(server: Server) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    outsider = new_key(server.data, "vision", "other", "admin", db=server.db)
    with server.client(key) as client:
        bad = client.post("/api/v1/sweeps/research/p",
                          json={"config": {"method": "grid", "parameters": {"lr": {"min": 0.1, "max": 1.0}}}})
        assert bad.status_code == 422 and "parameters.lr" in bad.json()["detail"]
        hyperband = client.post("/api/v1/sweeps/research/p", json={"config": {
            "method": "random", "parameters": {"lr": {"min": 0.1, "max": 1.0}},
            "early_terminate": {"type": "hyperband", "min_iter": 3}}})
        assert hyperband.status_code == 422 and "early_terminate" in hyperband.json()["detail"]  # needs a metric
        assert client.get("/api/v1/sweeps/research/p").status_code == 404  # nothing stored, not even the project
        sweep_id = client.post("/api/v1/sweeps/research/p", json={"config": _GRID}).json()["id"]
    with server.client(outsider) as other:
        assert other.get(f"/api/v1/sweeps/research/p/{sweep_id}").status_code == 404
        assert other.post(f"/api/v1/sweeps/research/p/{sweep_id}/claim", json={}).status_code == 404
        assert other.get(f"/api/v1/sweeps/vision/p/{sweep_id}").status_code == 404


def _claim_ending_each(server: Server, key: str, sweep_id: str,
                       end: Callable[[httpx.Client, dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
    """Claim trials until there are none, ending each with the body ``end(client, trial)`` returns."""
    with server.client(key) as client:
        got = []
        while True:
            answer = client.post(f"/api/v1/sweeps/research/p/{sweep_id}/claim", json={})
            assert answer.status_code == 200, answer.text
            trial = answer.json()["trial"]
            if trial is None:
                return got
            ended = client.post(f"/api/v1/sweeps/research/p/{sweep_id}/trials/{trial['number']}/end",
                                json=end(client, trial))
            assert ended.status_code == 200, ended.text
            got.append(trial)


def _claim_and_end(server: Server, key: str, sweep_id: str) -> list[dict[str, Any]]:
    """Claim trials until there are none, ending each with a value of a known function (best at x=3, y=b)."""
    def end(_: httpx.Client, trial: dict[str, Any]) -> dict[str, Any]:
        params = trial["params"]
        return {"state": "finished", "value": (params["x"] - 3) ** 2 + (0.0 if params["y"] == "b" else 1.0)}

    return _claim_ending_each(server, key, sweep_id, end)


def test_bayes_on_the_server_never_repeats_a_configuration_and_feeds_optuna(server: Server) -> None:
    """A discrete space of 10 configurations, 3 claimers in parallel: each configuration once, then the sweep
    finishes; Optuna's study in the server's storage holds every trial, completed with its value."""
    optuna = pytest.importorskip("optuna")
    key = new_key(server.data, "research", "box", db=server.db)
    config = {"method": "bayes", "metric": {"name": "loss", "goal": "minimize"},
              "parameters": {"x": {"values": [1, 2, 3, 4, 5]}, "y": {"values": ["a", "b"]}}}
    with server.client(key) as client:
        created = client.post("/api/v1/sweeps/research/p", json={"config": config, "seed": 3})
        assert created.status_code == 201, created.text
        sweep_id = created.json()["id"]
    with ThreadPoolExecutor(3) as pool:
        claimed = [t for part in pool.map(lambda _: _claim_and_end(server, key, sweep_id), range(3)) for t in part]
    configurations = [(t["params"]["x"], t["params"]["y"]) for t in claimed]
    assert len(configurations) == 10 and len(set(configurations)) == 10
    with server.client(key) as client:
        sweep = client.get(f"/api/v1/sweeps/research/p/{sweep_id}").json()
    assert sweep["state"] == "finished" and sweep["counts"] == {"finished": 10}
    from tracker_server._config import database_url
    from tracker_server._database import Database
    from tracker_server._sweeps import optuna_url

    db = Database(database_url(server.db, str(server.data)))
    try:
        storage = optuna_url(db)
    finally:
        db.dispose()
    from tracker_server._sweeps import _storage

    [summary] = [s for s in optuna.get_all_study_summaries(_storage(storage)) if s.study_name.startswith("sweep-")]
    study = optuna.load_study(study_name=summary.study_name, storage=_storage(storage))
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 10 and study.best_value == 0.0
    assert {t.user_attrs["tracker"]["run_id"] for t in complete} == {t["run_id"] for t in claimed}


def test_parameter_importance_comes_from_optuna_once_enough_trials_finished(server: Server) -> None:
    pytest.importorskip("sklearn", reason="Optuna's fANOVA needs scikit-learn")
    key = new_key(server.data, "research", "box", db=server.db)
    outsider = new_key(server.data, "vision", "other", "admin", db=server.db)
    config = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"},
              "parameters": {"x": {"values": [1, 2, 3, 4, 5]}, "y": {"values": ["a", "b"]}, "z": {"value": 1}}}
    with server.client(key) as client:
        sweep_id = client.post("/api/v1/sweeps/research/p", json={"config": config}).json()["id"]
        url = f"/api/v1/sweeps/research/p/{sweep_id}/importance"
        empty = client.get(url).json()
        assert empty["importances"] is None and "at least 5 finished trials" in empty["reason"]
        claimed = []
        for _ in range(4):
            trial = client.post(f"/api/v1/sweeps/research/p/{sweep_id}/claim", json={}).json()["trial"]
            claimed.append(trial)
            client.post(f"/api/v1/sweeps/research/p/{sweep_id}/trials/{trial['number']}/end",
                        json={"state": "finished", "value": float((trial["params"]["x"] - 3) ** 2)})
        assert client.get(url).json()["trials"] == 4  # still too few
    _claim_and_end(server, key, sweep_id)  # the rest: x matters, y a little
    with server.client(key) as client:
        found = client.get(url).json()
        assert found["trials"] == 10 and found["evaluator"] == "fanova"
        shares = found["importances"]
        assert list(shares) == ["x", "y"] and abs(sum(shares.values()) - 1) < 1e-9 and shares["x"] > 0.5
        assert client.get(url).json() == found  # cached until a trial ends, and seeded
    with server.client(outsider) as other:
        assert other.get(url).status_code == 404


def _trial_runs(server: Server, key: str, sweep_id: str, start: float) -> list[dict[str, Any]]:
    """Claim trials until the sweep's run_cap; each trial's run is created through the ingest route (named
    ``t{number}``, started out of number order) and the trial ended."""
    def end(client: httpx.Client, trial: dict[str, Any]) -> dict[str, Any]:
        number = trial["number"]
        meta = {"name": f"t{number}", "started": start + (number * 7919) % 3001}
        put = client.put(f"/api/v1/runs/research/p/{trial['run_id']}", json={"meta": meta})
        assert put.status_code == 200, put.text
        return {"state": "finished"}

    return _claim_ending_each(server, key, sweep_id, end)


def test_the_run_listing_scoped_to_a_sweep_of_1000_trials(server: Server) -> None:
    """``?sweep=ID`` lists exactly the sweep's trials' runs, sorted and paged like any listing (in SQL, and in
    Python where the order or filter needs it), in a request of a few bytes; another sweep's runs and the
    project's other runs are left out; a sweep the caller's team does not have is the 404 of an unknown one."""
    key = new_key(server.data, "research", "box", db=server.db)
    outsider = new_key(server.data, "vision", "other", "admin", db=server.db)
    trials = 1000  # 9,000 requests for 3,000 took 90 s a database; 1,000 ids would already make a 14 kB URL
    config = {"method": "random", "run_cap": trials, "parameters": {"lr": {"min": 0.001, "max": 0.1}}}
    with server.client(key) as client:
        sweep_id = client.post("/api/v1/sweeps/research/p", json={"config": config}).json()["id"]
        small = {**config, "run_cap": 5}
        other_id = client.post("/api/v1/sweeps/research/p", json={"config": small}).json()["id"]
        for n in range(20):  # runs of no sweep, named like trials' runs
            assert client.put(f"/api/v1/runs/research/p/plain{n}", json={"meta": {"name": f"t{n}"}}).status_code == 200
    with ThreadPoolExecutor(4) as pool:
        claimed = [t for part in pool.map(lambda _: _trial_runs(server, key, sweep_id, 1e9), range(4)) for t in part]
    others = _trial_runs(server, key, other_id, 2e9)
    assert len(claimed) == trials and len(others) == 5
    mine = {t["run_id"] for t in claimed}
    runs_url = "/api/v1/runs/research/p"
    with server.client(key) as client:
        everything = client.get(runs_url, params={"limit": 100_000}).json()
        assert everything["total"] == trials + 5 + 20
        expected = [r["id"] for r in everything["runs"] if r["id"] in mine]  # the usual order: created_at, id
        scoped = client.get(runs_url, params={"sweep": sweep_id, "limit": 100_000})
        assert len(str(scoped.request.url)) < 200
        assert scoped.json()["total"] == trials and [r["id"] for r in scoped.json()["runs"]] == expected
        newest = client.get(runs_url, params={"sweep": sweep_id, "order": "-created_at", "limit": 200,
                                              "offset": 300}).json()
        assert newest["total"] == trials and [r["id"] for r in newest["runs"]] == expected[::-1][300:500]
        by_name = sorted(scoped.json()["runs"], key=lambda r: (r["name"], r["created_at"], r["id"]))
        named = client.get(runs_url, params={"sweep": sweep_id, "order": "name", "limit": 100, "offset": 950}).json()
        assert named["total"] == trials and [r["id"] for r in named["runs"]] == [r["id"] for r in by_name[950:]]
        ones = client.get(runs_url, params={"sweep": sweep_id, "filters": "name~^t1", "limit": 100_000}).json()
        assert {r["id"] for r in ones["runs"]} == {r["id"] for r in by_name if r["name"].startswith("t1")}
        assert ones["total"] == sum(1 for t in claimed if str(t["number"]).startswith("1"))
        few = client.get(runs_url, params={"sweep": other_id}).json()
        assert few["total"] == 5 and {r["id"] for r in few["runs"]} == {t["run_id"] for t in others}
        unknown = client.get(runs_url, params={"sweep": "nosuchsweep"})
        assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
        best_url = "/api/v1/best/research/p"
        assert client.get(best_url, params={"metric": "loss", "sweep": "nosuchsweep"}).status_code == 404
        assert client.get(best_url, params={"metric": "loss", "sweep": sweep_id}).json()["run"] is None
        spec = client.get("/openapi.json").json()["paths"]
        for path in ("/api/v1/runs/{entity}/{project}", "/api/v1/best/{entity}/{project}"):
            [documented] = [p for p in spec[path]["get"]["parameters"] if p["name"] == "sweep"]
            assert documented["in"] == "query" and "sweep" in documented["description"]
    with server.client(outsider) as other:
        assert other.put("/api/v1/runs/vision/p/theirs", json={"meta": {}}).status_code == 200  # their own project p
        for asked in (sweep_id, "nosuchsweep"):
            for path in ("/api/v1/runs/vision/p", "/api/v1/best/vision/p"):
                refused = other.get(path, params={"sweep": asked, "metric": "loss"})
                assert refused.status_code == 404, refused.text
                assert refused.json() == {**refused.json(), "error": "not_found",
                                          "detail": f"no such sweep vision/p/{asked}"}
        assert other.get(runs_url, params={"sweep": sweep_id}).status_code == 404  # the research team's path

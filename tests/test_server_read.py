"""The read API against what the local store says about the same runs: listing with filters and order,
best, history in full and in buckets (a planted spike survives), states, edits and live events."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from _server import Server, httpx, make_run, new_key, post_run, run_lines, spike

import tracker_core

pytestmark = pytest.mark.slow


def _failing_run(**config: Any) -> Path:
    run = tracker_core.init(project="p", config=config)
    run.log({"loss": 5.0, "acc": 0.01}, step=0)
    try:
        raise RuntimeError("diverged")
    except RuntimeError:
        run.finish(exit_code=1)
    return Path(run.dir)


def test_listing_and_best_answer_like_the_local_store(server: Server, store: Path) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    runs = []
    for index, lr in enumerate([1e-4, 3e-4, 1e-3, 3e-3, 1e-2, "auto"]):
        runs.append(make_run(steps=6, config={"lr": lr, "opt": {"name": "adam" if index % 2 else "sgd"}, "seed": index},
                             tags=["phase-1"] if index < 3 else [], group="sweep" if index % 3 == 0 else None,
                             metrics=lambda step, i=index: {"loss": 1.0 / (step + 1 + i), "acc": (step + i) / 20.0}))
    runs.append(_failing_run(lr=0.5, seed=99))
    with server.client(key) as client:
        for run_dir in runs:
            post_run(client, "research", run_dir)
        local = tracker_core.Api(store)
        cases = [
            ([], None), ([], "-summary.acc"), ([], "summary.loss"), (["config.lr<1e-3"], None),
            (["config.lr>=1e-3", "summary.acc>0.3"], "-summary.acc"), (["status=failed"], None),
            (["status=finished"], "config.lr"), (["tags=phase-1"], "-config.lr"), (["config.opt.name=adam"], None),
            (["group=sweep"], "-config.seed"), (["name~^[a-z0-9]+$", "config.seed!=2"], "created_at"),
            (['{"$or": [{"config.seed": 1}, {"config.seed": 4}]}'], "-summary.loss"), (["config.lr=auto"], None),
        ]
        for filters, order in cases:
            params: dict[str, Any] = {"filters": filters}
            if order:
                params["order"] = order
            answer = client.get("/api/v1/runs/research/p", params=params)
            assert answer.status_code == 200, answer.text
            local_filters = orjson.loads(filters[0]) if filters and filters[0].startswith("{") else filters or None
            expected = [run.id for run in local.runs("p", local_filters, order)]
            assert [run["id"] for run in answer.json()["runs"]] == expected, (filters, order)
            assert answer.json()["total"] == len(expected)
        page = client.get("/api/v1/runs/research/p", params={"order": "-summary.acc", "limit": 2, "offset": 1}).json()
        assert [r["id"] for r in page["runs"]] == [r.id for r in local.runs("p", order="-summary.acc")][1:3]
        assert client.get("/api/v1/runs/research/p", params={"filters": "bogus.field>1"}).status_code == 400
        assert client.get("/api/v1/runs/research/p", params={"order": "-nope"}).status_code == 400
        for metric, goal, filters in [("loss", "min", []), ("acc", "max", []), ("acc", "max", ["config.lr<1e-3"]),
                                      ("loss", "max", ["tags=phase-1"]), ("acc", "min", ["status=failed"])]:
            best = client.get("/api/v1/best/research/p", params={"metric": metric, "goal": goal,
                                                                 "filters": filters}).json()
            candidates = local.runs("p", filters or None)
            values = [(run.extremes[metric][0 if goal == "min" else 2], run.created_at, run.id) for run in candidates]
            value, _, run_id = sorted(values, key=lambda v: ((v[0] if goal == "min" else -v[0]), v[1]))[0]
            assert best["run"]["id"] == run_id and best["value"] == value, (metric, goal, filters)
        assert client.get("/api/v1/best/research/p", params={"metric": "nothing"}).json() == {
            "run": None, "value": None, "step": None}
        failed = client.get("/api/v1/runs/research/p", params={"filters": "status=failed"}).json()["runs"][0]
        assert failed["exit_code"] == 1 and failed["state"] == "failed"
        projects = client.get("/api/v1/projects/research").json()["projects"]
        assert [(p["name"], p["runs"]) for p in projects] == [("p", len(runs))]


def test_history_in_full_equals_the_log_and_buckets_keep_a_single_spike(server: Server, store: Path) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    steps, at = 30000, 17321
    run_dir = make_run(steps=steps, metrics=lambda step: {"train/loss": spike(step, at), "epoch": step // 1000,
                                                          **({"val/acc": step / steps} if step % 100 == 0 else {})})
    with server.client(key) as client:
        run_id = post_run(client, "research", run_dir, batch=7000)
        path = f"/api/v1/runs/research/p/{run_id}/history"
        local = tracker_core.Api(store).run(f"p/{run_id}").history(keys=["train/loss", "val/acc"])
        full = client.get(path, params={"keys": ["train/loss", "val/acc"]}).json()
        assert full["x"] == "_step" and "bucketed" not in full
        loss = full["series"]["train/loss"]
        assert loss["x"] == [row["_step"] for row in local if "train/loss" in row]
        assert loss["y"] == [row["train/loss"] for row in local if "train/loss" in row]
        acc = full["series"]["val/acc"]
        assert acc["x"] == list(range(0, steps, 100)) and acc["y"] == [s / steps for s in range(0, steps, 100)]
        buckets = client.get(path, params={"keys": "train/loss", "buckets": 200}).json()
        assert buckets["bucketed"] is True
        b = buckets["series"]["train/loss"]
        assert len(b["count"]) == 200 and sum(b["count"]) == steps
        spiked = [i for i, high in enumerate(b["max"]) if high == 1e6]
        assert len(spiked) == 1 and b["x0"][spiked[0]] <= at <= b["x1"][spiked[0]]
        assert all(low <= first <= high and low <= last <= high
                   for low, first, last, high in zip(b["min"], b["first"], b["last"], b["max"], strict=True))
        zoom = client.get(path, params={"keys": "train/loss", "min_x": at - 5, "max_x": at + 5}).json()
        assert zoom["series"]["train/loss"]["x"] == list(range(at - 5, at + 6))
        assert zoom["series"]["train/loss"]["y"][5] == 1e6
        by_epoch = client.get(path, params={"keys": "train/loss", "x": "epoch", "buckets": 30}).json()
        assert sum(by_epoch["series"]["train/loss"]["count"]) == steps
        assert by_epoch["series"]["train/loss"]["max"][at // 1000] == 1e6
        by_time = client.get(path, params={"keys": "val/acc", "x": "_timestamp"}).json()["series"]["val/acc"]
        assert by_time["x"] == sorted(by_time["x"]) and len(by_time["x"]) == steps // 100
        everything = client.get(path).json()["series"]
        assert set(everything) == {"train/loss", "epoch", "val/acc"}
        assert everything["epoch"]["y"][-1] == (steps - 1) // 1000 and isinstance(everything["epoch"]["y"][-1], int)


def test_states_come_from_the_records_and_a_silent_run_reads_as_crashed(server: Server) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    live = make_run(steps=3, finish=False)
    lines = run_lines(live)
    with server.client(key) as client:
        run_id = post_run(client, "research", live, lines=lines)
        assert client.get(f"/api/v1/runs/research/p/{run_id}").json()["state"] == "running"
        tracker_core.finish()
        silent = make_run(project="q", steps=3, finish=False)
        silent_lines = run_lines(silent)
        shifted = [orjson.dumps({**orjson.loads(line), "t": orjson.loads(line)["t"] - 3600}) + b"\n"
                   for line in silent_lines]
        silent_id = post_run(client, "research", silent, lines=shifted)
        assert client.get(f"/api/v1/runs/research/q/{silent_id}").json()["state"] == "crashed"
        listing = client.get("/api/v1/runs/research/q", params={"filters": "status=crashed"}).json()
        assert [r["id"] for r in listing["runs"]] == [silent_id]
        assert client.get("/api/v1/runs/research/q", params={"filters": "status=running"}).json()["total"] == 0
        tracker_core.finish()
        rest = run_lines(silent)[len(silent_lines):]
        assert client.post(f"/api/v1/runs/research/q/{silent_id}/records", content=b"".join(rest)).status_code == 200
        assert client.get(f"/api/v1/runs/research/q/{silent_id}").json()["state"] == "finished"  # its log wins


def test_edits_and_live_events(server: Server) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    run = tracker_core.init(project="p")
    run.log({"loss": 1.0}, step=0)
    run_dir = Path(run.dir)
    with server.client(key) as client:
        run_id = post_run(client, "research", run_dir)
        sent = len(run_lines(run_dir))
        edited = client.patch(f"/api/v1/runs/research/p/{run_id}", json={"name": "baseline", "tags": ["best"],
                                                                          "notes": "look"}).json()
        assert (edited["name"], edited["tags"], edited["notes"]) == ("baseline", ["best"], "look")
        assert client.patch(f"/api/v1/runs/research/p/{run_id}", json={"colour": "red"}).status_code == 400
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = threading.Event()
        statuses: queue.Queue[tuple[int, str]] = queue.Queue()

        def listen(params: dict[str, Any]) -> None:
            try:
                with server.client(key) as streamer, streamer.stream("GET", "/api/v1/events/research/p",
                                                                     params=params, timeout=60) as stream:
                    statuses.put((stream.status_code, stream.headers["content-type"]))
                    kind = None
                    for line in stream.iter_lines():
                        if stop.is_set():
                            return
                        if line.startswith("event: "):
                            kind = line[7:]
                        elif line.startswith("data: "):
                            events.put((f"{params.get('run', 'project')}:{kind}", orjson.loads(line[6:])))
            except httpx.HTTPError:
                if not stop.is_set():
                    raise

        listeners = [threading.Thread(target=listen, args=(p,), daemon=True)
                     for p in ({"run": run_id, "after_seq": 1}, {})]
        for listener in listeners:
            listener.start()
            status, content_type = statuses.get(timeout=30)
            assert status == 200 and content_type.startswith("text/event-stream")
        first = events.get(timeout=30)
        assert first[0] == f"{run_id}:run" and first[1]["name"] == "baseline"
        replayed = [events.get(timeout=30) for _ in range(sent - 1)]
        assert [e[1]["record"]["seq"] for e in replayed] == list(range(2, sent + 1))
        time.sleep(1.0)  # the project stream is connected
        run.log({"loss": 0.5}, step=1)
        other = make_run(project="p", steps=2)
        new_lines = run_lines(run_dir)[sent:]
        new_seqs = [orjson.loads(line)["seq"] for line in new_lines]
        post_run(client, "research", run_dir, lines=new_lines)
        post_run(client, "research", other)
        seen: dict[str, list[Any]] = {}

        def complete() -> bool:
            mine = [d["record"]["seq"] for d in seen.get(f"{run_id}:record", [])]
            theirs = [d["record"]["seq"] for d in seen.get("project:record", []) if d["run"] == run_id]
            others = [d["record"]["seq"] for d in seen.get("project:record", []) if d["run"] == other.name]
            return (mine == new_seqs and theirs == new_seqs and others == list(range(1, len(run_lines(other)) + 1))
                    and other.name in [d["id"] for d in seen.get("project:run", [])])

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not complete():
            try:
                kind, data = events.get(timeout=1)
            except queue.Empty:
                continue
            seen.setdefault(kind, []).append(data)
        assert complete(), seen
        assert {"loss": 0.5} in [d["record"].get("data") for d in seen[f"{run_id}:record"]]
        states = [d["state"] for d in seen["project:run"] if d["id"] == run_id]
        assert states == ["finished"]  # init() of the next run finished this one: a state change
        stop.set()
        assert client.get("/api/v1/events/research/p", params={"run": "nosuch"}).status_code == 404


def test_a_rewound_run_reads_like_its_local_log(server: Server, store: Path) -> None:
    key = new_key(server.data, "research", "box", db=server.db)
    first = make_run(steps=10, metrics=lambda step: {"loss": float(step)})
    run_id = first.name
    with server.client(key) as client:
        post_run(client, "research", first)
        sent = len(run_lines(first))
        run = tracker_core.init(project="p", id=run_id, resume="must", resume_from_step=4)
        for step in range(5, 8):
            run.log({"loss": 100.0 + step}, step=step)
        run.finish()
        post_run(client, "research", first, lines=run_lines(first)[sent:])
        local = tracker_core.Api(store).run(f"p/{run_id}")
        series = client.get(f"/api/v1/runs/research/p/{run_id}/history", params={"keys": "loss"}).json()
        rows = local.history(keys=["loss"])
        assert series["series"]["loss"] == {"x": [r["_step"] for r in rows], "y": [r["loss"] for r in rows]}
        assert series["series"]["loss"]["x"] == list(range(8))
        remote = client.get(f"/api/v1/runs/research/p/{run_id}").json()
        assert remote["summary"]["loss"] == local.summary["loss"] == 107.0
        assert remote["state"] == "finished"
        best = client.get("/api/v1/best/research/p", params={"metric": "loss", "goal": "max"}).json()
        assert best["value"] == 107.0

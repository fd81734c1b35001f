"""Reports on the team server: revisions (a stale save is refused and kept), diff and restore, live and pinned
panel data over real runs, comments, team scoping, share links that open that report and nothing else, and
Markdown (XSS payloads included) stored and answered as JSON text, never as HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _server import Server, new_key

import tracker_core

pytestmark = pytest.mark.slow

XSS = ('<script>alert(1)</script> <img src=x onerror="alert(2)"> [click](javascript:alert(3)) '
       '<a href="javascript:alert(4)">x</a> <svg onload=alert(5)>')


def report_text(project: str = "research/p") -> str:
    return f"""---
title: Weekly best runs
project: {project}
---
# Why they worked

{XSS}

Math: $\\alpha < 10^{{-3}}$ and $$\\sum_i x_i$$

```panel
type: line
title: Loss
metric: loss
x: _step
runs:
  filters: "config.lr<1"
  order: -summary.acc
```

```panel
type: best
metric: loss
goal: min
runs:
  filters: "config.lr<1"
```

```panel
type: table
columns: [config.lr, summary.acc]
runs:
  ids: [nosuchrun]
```

```panel
type: scatter
param: config.lr
metric: acc
runs:
  filters: "config.lr>100"
```
"""


def online(monkeypatch: pytest.MonkeyPatch, server: Server, key: str) -> None:
    monkeypatch.setenv("TRACKER_SERVER", server.url)
    monkeypatch.setenv("TRACKER_API_KEY", key)
    monkeypatch.setenv("TRACKER_MODE", "online")


def train(lr: float, floor: float, steps: int = 1500, images: bool = False, name: str | None = None) -> str:
    """A real run streamed to the server: loss falls to ``floor``; its id."""
    run = tracker_core.init(project="p", entity="research", config={"lr": lr, "secret_field": "hidden"},
                            name=name)
    for step in range(steps):
        row: dict[str, Any] = {"loss": floor + 1.0 / (step + 1), "acc": 1.0 - floor}
        if images and step == steps - 1:
            row["samples"] = tracker_core.Image(np.full((4, 4, 3), 200, dtype=np.uint8), caption="last")
        run.log(row, step=step)
    run.finish()
    return str(run.id)


def test_revisions_panels_pins_comments_and_markdown_as_text(server: Server, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    key = new_key(server.data, "research", "alice", db=server.db)
    viewer = new_key(server.data, "research", "reader", "viewer", db=server.db)
    outsider = new_key(server.data, "vision", "eve", "admin", db=server.db)
    online(monkeypatch, server, key)
    first = train(0.01, 0.5, name=XSS)
    second = train(0.1, 0.3)
    text = report_text()
    with server.client(key) as client:
        created = client.post("/api/v1/reports", json={"project": "research/p", "markdown": text})
        assert created.status_code == 201, created.text
        report_id = created.json()["id"]
        assert created.json()["revision"] == 1 and created.json()["url"].endswith(f"/reports/{report_id}")
        got = client.get(f"/api/v1/reports/{report_id}")
        assert got.headers["content-type"] == "application/json"
        body = got.json()
        assert body["markdown"] == text and body["title"] == "Weekly best runs" and body["project"] == "research/p"
        assert XSS in body["blocks"][0]["text"] and "<script>" not in got.headers["content-type"]
        assert [b["kind"] for b in body["blocks"]] == ["markdown", "panel", "markdown", "panel", "markdown", "panel",
                                                       "markdown", "panel"]
        assert client.get("/api/v1/reports", params={"project": "research/p"}).json()["reports"][0]["id"] == report_id
        page = client.get(f"/reports/{report_id}")  # the UI's page: the bundle (or how to build it), never the text
        assert page.headers["content-type"].startswith("text/html") and "alert(" not in page.text

        line = client.get(f"/api/v1/reports/{report_id}/blocks/1/data").json()
        assert line["type"] == "line" and line["pinned"] is False
        assert [r["id"] for r in line["runs"]] == [second, first]  # -summary.acc: 0.7 before 0.5
        assert line["runs"][1]["name"] == XSS and line["runs"][1]["config"] == {}
        assert len(line["series"][first]["x"]) == 1500 and line["series"][first]["x"][:3] == [0, 1, 2]
        assert line["series"][second]["y"][-1] == pytest.approx(0.3 + 1 / 1500)
        best = client.get(f"/api/v1/reports/{report_id}/blocks/3/data").json()
        assert best["best"]["id"] == second and best["best"]["value"] == pytest.approx(0.3 + 1 / 1500)
        table = client.get(f"/api/v1/reports/{report_id}/blocks/5/data").json()
        assert table == {"type": "table", "pinned": False, "runs": [], "message": "run nosuchrun was deleted"}
        scatter = client.get(f"/api/v1/reports/{report_id}/blocks/7/data").json()
        assert scatter["runs"] == [] and scatter["message"] == "no run matches this run set"
        assert client.get(f"/api/v1/reports/{report_id}/blocks/0/data").status_code == 400
        assert client.get(f"/api/v1/reports/{report_id}/blocks/99/data").status_code == 404

        pinned = client.post(f"/api/v1/reports/{report_id}/blocks/3/pin")
        assert pinned.json() == {"revision": 2}
    third = train(0.001, 0.1)  # a better run: live panels show it, the pinned one does not
    with server.client(key) as client:
        line = client.get(f"/api/v1/reports/{report_id}/blocks/1/data").json()
        assert third in line["series"]
        frozen = client.get(f"/api/v1/reports/{report_id}/blocks/3/data").json()
        assert frozen["pinned"] is True and frozen["best"]["id"] == second and frozen["pinned_at"]
        assert "pinned:" in client.get(f"/api/v1/reports/{report_id}").json()["markdown"]
        assert client.delete(f"/api/v1/reports/{report_id}/blocks/3/pin").json() == {"revision": 3}
        assert client.get(f"/api/v1/reports/{report_id}/blocks/3/data").json()["best"]["id"] == third

        # two people edit revision 3: the second save is refused, both texts kept
        mine, theirs = text.replace("Why they worked", "Mine"), text.replace("Why they worked", "Theirs")
        assert client.put(f"/api/v1/reports/{report_id}", json={"base_revision": 3, "markdown": mine}).json() == {
            "revision": 4}
        stale = client.put(f"/api/v1/reports/{report_id}", json={"base_revision": 3, "markdown": theirs})
        assert stale.status_code == 409 and stale.json()["error"] == "stale_revision"
        assert stale.json()["details"] == {"current_revision": 4, "conflict_revision": 5}
        assert client.get(f"/api/v1/reports/{report_id}").json()["markdown"] == mine
        listed = client.get(f"/api/v1/reports/{report_id}/revisions").json()["revisions"]
        assert [(r["revision"], r["conflict"], r["author"]) for r in listed] == [
            (1, False, "alice"), (2, False, "alice"), (3, False, "alice"), (4, False, "alice"), (5, True, "alice")]
        assert client.get(f"/api/v1/reports/{report_id}/revisions/5").json()["markdown"] == theirs
        changes = client.get(f"/api/v1/reports/{report_id}/diff", params={"from": 1, "to": 4}).json()
        assert "-# Why they worked\n+# Mine\n" in changes["diff"] and changes["diff"].startswith("--- revision 1")
        assert client.post(f"/api/v1/reports/{report_id}/restore", json={"revision": 1, "base_revision": 4}
                           ).json() == {"revision": 6}
        assert client.get(f"/api/v1/reports/{report_id}").json()["markdown"] == text
        renamed = client.put(f"/api/v1/reports/{report_id}", json={"base_revision": 6, "title": "Renamed"})
        assert renamed.json() == {"revision": 7}
        after = client.get(f"/api/v1/reports/{report_id}").json()
        assert after["title"] == "Renamed" and "title: Renamed" in after["markdown"]
        assert after["blocks"][1:] == client.get(f"/api/v1/reports/{report_id}/revisions/1").json()["blocks"][1:]

        bad = client.put(f"/api/v1/reports/{report_id}", json={"base_revision": 7,
                                                               "markdown": "x\n```panel\ntype: pie\n```\n"})
        assert bad.status_code == 400 and bad.json()["line"] == 2 and "pie" in bad.json()["detail"]
        assert client.get(f"/api/v1/reports/{report_id}").json()["revision"] == 7

        said = client.post(f"/api/v1/reports/{report_id}/comments", json={"text": XSS, "block": 1})
        assert said.status_code == 201
        assert client.post(f"/api/v1/reports/{report_id}/comments", json={"text": "whole"}).status_code == 201
        assert client.post(f"/api/v1/reports/{report_id}/comments", json={"text": "x", "block": 50}).status_code == 400
        notes = client.get(f"/api/v1/reports/{report_id}/comments").json()["comments"]
        assert [(c["block"], c["text"], c["author"]) for c in notes] == [(1, XSS, "alice"), (None, "whole", "alice")]
    with server.client(viewer) as client:
        assert client.get(f"/api/v1/reports/{report_id}").status_code == 200
        refused = client.put(f"/api/v1/reports/{report_id}", json={"base_revision": 7, "markdown": text})
        assert refused.status_code == 403
        assert client.post("/api/v1/reports", json={"project": "research/p", "markdown": text}).status_code == 403
    with server.client(outsider) as client:
        for method, path in (("GET", ""), ("GET", "/revisions"), ("GET", "/blocks/1/data"), ("PUT", ""),
                             ("GET", "/comments"), ("POST", "/shares"), ("POST", "/pin")):
            body = {"base_revision": 7, "markdown": text} if method == "PUT" else None
            answer = client.request(method, f"/api/v1/reports/{report_id}{path}", json=body)
            assert answer.status_code == 404, (method, path, answer.text)
        assert client.get("/api/v1/reports", params={"project": "research/p"}).status_code == 404
        assert client.get("/api/v1/reports").json() == {"reports": []}
        mine = client.post("/api/v1/reports", json={"project": "vision/p", "markdown": report_text("vision/p")})
        leaked = client.get(f"/api/v1/reports/{mine.json()['id']}/blocks/1/data").json()
        assert leaked["runs"] == [] and "message" in leaked  # its own team's project has no runs
        reaching = report_text("vision/p").replace('  filters: "config.lr<1"\n  order',
                                                   "  project: research/p\n  order")
        other = client.post("/api/v1/reports", json={"project": "vision/p", "markdown": reaching}).json()["id"]
        refused_data = client.get(f"/api/v1/reports/{other}/blocks/1/data").json()
        assert refused_data == {"type": "line", "pinned": False, "runs": [],
                                "message": "project research/p is not in this report's team"}
        assert client.post(f"/api/v1/reports/{other}/blocks/1/pin").status_code == 200
        assert "research" not in str(client.get(f"/api/v1/reports/{other}/blocks/1/data").json()["runs"])
        taken = client.post("/api/v1/reports", json={"project": "vision/p", "markdown": text, "id": report_id})
        assert taken.status_code == 409


def test_a_share_link_opens_that_report_and_nothing_else(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key(server.data, "research", "alice", db=server.db)
    online(monkeypatch, server, key)
    shown = train(0.01, 0.5, steps=20, images=True)
    hidden = train(0.5, 0.2, steps=20, images=True)
    text = f"""---
title: Shared
project: research/p
---
```panel
type: images
key: samples
runs:
  ids: [{shown}]
```
```panel
type: table
columns: [config.lr]
runs:
  ids: [{shown}]
```
"""
    with server.client(key) as client:
        report_id = client.post("/api/v1/reports", json={"project": "research/p", "markdown": text}).json()["id"]
        other_id = client.post("/api/v1/reports", json={"project": "research/p", "markdown": report_text()}
                               ).json()["id"]
        share = client.post(f"/api/v1/reports/{report_id}/shares")
        assert share.status_code == 201 and share.json()["url"].endswith(f"/shared/{share.json()['token']}")
        token = share.json()["token"]
        listed = client.get(f"/api/v1/reports/{report_id}/shares").json()["shares"]
        assert len(listed) == 1 and token not in str(listed)
        hidden_file = client.get(f"/api/v1/runs/research/p/{hidden}/files").json()["files"]
    with server.client() as anonymous:
        got = anonymous.get(f"/api/v1/shared/{token}")
        assert got.status_code == 200 and got.json()["markdown"] == text and "updated_by" not in got.json()
        images = anonymous.get(f"/api/v1/shared/{token}/blocks/0/data").json()
        assert [r["id"] for r in images["runs"]] == [shown] and len(images["images"]) == 1
        picture = anonymous.get(images["images"][0]["url"])
        assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
        table = anonymous.get(f"/api/v1/shared/{token}/blocks/1/data").json()
        assert table["runs"][0]["config"] == {"lr": 0.01} and "secret_field" not in str(table)
        hidden_path = next(iter(hidden_file)) if isinstance(hidden_file, dict) else hidden_file[0]["path"]
        for path in (f"/api/v1/shared/{token}/files/p/{hidden}/{hidden_path}",
                     f"/api/v1/shared/{token}/files/p/{shown}/../{hidden}/{hidden_path}",
                     f"/api/v1/shared/{token}/files/p/{shown}/run.json",
                     f"/api/v1/shared/{token}/blocks/5/data", f"/api/v1/shared/{token}x",
                     f"/api/v1/shared/{token}/reports/{other_id}", f"/api/v1/shared/{token}/runs/research/p/{hidden}"):
            assert anonymous.get(path).status_code == 404, path
        for path in (f"/api/v1/reports/{other_id}", f"/api/v1/reports/{report_id}",
                     f"/api/v1/runs/research/p/{hidden}", f"/api/v1/runs/research/p/{shown}",
                     f"/api/v1/blobs/research/{'0' * 64}"):
            assert anonymous.get(path).status_code == 401, path
            assert anonymous.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 401, path
    with server.client(key) as client:
        assert client.post(f"/api/v1/reports/{report_id}/pin").status_code == 200
    with server.client() as anonymous:
        frozen = anonymous.get(f"/api/v1/shared/{token}/blocks/0/data").json()
        assert frozen["pinned"] is True and frozen["images"][0]["url"] == images["images"][0]["url"]
        assert anonymous.get(frozen["images"][0]["url"]).content == picture.content
    with server.client(key) as client:
        assert client.delete(f"/api/v1/reports/{report_id}/shares/{token}").status_code == 204
        assert client.delete(f"/api/v1/reports/{report_id}/shares/{token}").status_code == 404
    with server.client() as anonymous:
        assert anonymous.get(f"/api/v1/shared/{token}").status_code == 404
        assert anonymous.get(f"/api/v1/shared/{token}/blocks/1/data").status_code == 404


def test_simultaneous_saves_on_one_revision_let_exactly_one_through_and_keep_every_text(server: Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    key = new_key(server.data, "research", "alice", db=server.db)
    text = report_text()
    with server.client(key) as client:
        report_id = client.post("/api/v1/reports", json={"project": "research/p", "markdown": text}).json()["id"]

    def save(n: int) -> tuple[int, str]:
        with server.client(key) as client:
            mine = text.replace("Why they worked", f"Edit {n}")
            return client.put(f"/api/v1/reports/{report_id}", json={"base_revision": 1, "markdown": mine}
                              ).status_code, mine

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(save, range(6)))
    assert sorted(status for status, _ in answers) == [200, 409, 409, 409, 409, 409]
    with server.client(key) as client:
        current = client.get(f"/api/v1/reports/{report_id}").json()
        revisions = client.get(f"/api/v1/reports/{report_id}/revisions").json()["revisions"]
        kept = {client.get(f"/api/v1/reports/{report_id}/revisions/{r['revision']}").json()["markdown"]
                for r in revisions}
    assert current["revision"] == 2 and current["markdown"] == next(m for s, m in answers if s == 200)
    assert len(revisions) == 7 and sum(r["conflict"] for r in revisions) == 5
    assert kept == {text, *(m for _, m in answers)}


def grouped_text(group: str) -> str:
    return f"""---
title: Grouped
project: research/g
---
```panel
type: line
metric: loss
runs:
  group: {group}
```

```panel
type: bar
metric: acc
runs:
  group: {group}
```
"""


def test_grouped_run_set_aggregates_full_histories_per_group_and_pins_them(
        server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key(server.data, "research", "alice", db=server.db)
    online(monkeypatch, server, key)
    logged: dict[str, tuple[str, dict[int, float], float]] = {}  # run id -> (optimizer, loss by step, acc)
    plans = [("adam", 0.1, range(0, 300)), ("adam", 0.2, range(0, 450, 3)), ("sgd", 0.3, range(0, 200, 2)),
             ("sgd", 0.5, range(100, 400)), ("adam", 0.05, range(0, 300, 7))]
    for number, (opt, scale, steps) in enumerate(plans):
        run = tracker_core.init(project="g", entity="research", config={"train": {"opt": opt}, "seed": number},
                                job_type="train" if number % 2 else "eval")
        losses = {step: scale * (1 + number) / (step + 1) + 0.01 * (step % 5) for step in steps}
        for step, loss in losses.items():
            run.log({"loss": loss, "acc": 1 - scale}, step=step)
        run.finish()
        logged[str(run.id)] = (opt, losses, 1 - scale)
    with server.client(key) as client:
        report_id = client.post("/api/v1/reports", json={"project": "research/g",
                                                         "markdown": grouped_text("config.train.opt")}).json()["id"]
        line = client.get(f"/api/v1/reports/{report_id}/blocks/0/data").json()
        assert {g["key"] for g in line["groups"]} == {"adam", "sgd"}
        for group in line["groups"]:
            members = [run_id for run_id, (opt, _, _) in logged.items() if opt == group["key"]]
            assert sorted(group["runs"]) == sorted(members) and group["count"] == len(members)
            steps = sorted({step for run_id in members for step in logged[run_id][1]})
            at = {step: [logged[run_id][1][step] for run_id in members if step in logged[run_id][1]] for step in steps}
            series = group["series"]
            assert series["x"] == steps  # every step any run of the group logged, from the full histories
            assert series["count"] == [len(at[s]) for s in steps]
            assert series["mean"] == pytest.approx([sum(at[s]) / len(at[s]) for s in steps])
            assert series["min"] == pytest.approx([min(at[s]) for s in steps])
            assert series["max"] == pytest.approx([max(at[s]) for s in steps])
            last = [logged[run_id][1][max(logged[run_id][1])] for run_id in members]  # the summary: last loss
            assert group["summary"] == {"mean": pytest.approx(sum(last) / len(last)), "min": pytest.approx(min(last)),
                                        "max": pytest.approx(max(last)), "count": len(last)}
        assert all(run["config"] == {"train.opt": logged[run["id"]][0]} for run in line["runs"])
        assert len(line["series"]) == len(plans)  # each run's own history still comes with the groups
        bar = client.get(f"/api/v1/reports/{report_id}/blocks/2/data").json()
        for group in bar["groups"]:
            accs = [acc for opt, _, acc in logged.values() if opt == group["key"]]
            assert group["summary"] == {"mean": pytest.approx(sum(accs) / len(accs)), "min": pytest.approx(min(accs)),
                                        "max": pytest.approx(max(accs)), "count": len(accs)}
            assert "series" not in group

        by_job = client.post("/api/v1/reports", json={"project": "research/g",
                                                      "markdown": grouped_text("job_type")}).json()["id"]
        jobs = client.get(f"/api/v1/reports/{by_job}/blocks/2/data").json()["groups"]
        assert {g["key"]: g["count"] for g in jobs} == {"eval": 3, "train": 2}
        bad = client.post("/api/v1/reports", json={"project": "research/g", "markdown": grouped_text("tags")})
        refused = client.get(f"/api/v1/reports/{bad.json()['id']}/blocks/0/data").json()
        assert "groups" not in refused and "run set `group` must be config.<key>, group or job_type" in refused[
            "message"] and len(refused["runs"]) == len(plans)

        assert client.post(f"/api/v1/reports/{report_id}/blocks/0/pin").status_code == 200
    extra = tracker_core.init(project="g", entity="research", config={"train": {"opt": "lion"}})
    extra.log({"loss": 9.0, "acc": 0.0}, step=0)
    extra.finish()
    with server.client(key) as client:
        frozen = client.get(f"/api/v1/reports/{report_id}/blocks/0/data").json()
        assert frozen["pinned"] is True and frozen["groups"] == line["groups"]  # the groups are frozen too
        live = client.get(f"/api/v1/reports/{report_id}/blocks/2/data").json()
        assert {g["key"] for g in live["groups"]} == {"adam", "sgd", "lion"}

"""The server side of the web UI: browser sessions, the bundle's routes, and ``tracker ui``'s import of a
local store (in-process over a real SQLite database, and as a real process on another interface)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from _server import Server, make_run, new_key, run_lines, server_cli, start_ui_needing_sign_in
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tracker_server._app import open_state
from tracker_server._config import ServerConfig
from tracker_server._deps import Scope
from tracker_server._identity import authenticate, create_key
from tracker_server._local import Importer
from tracker_server._ui import add_ui_routes

ROOT = Path(__file__).resolve().parents[1]


def test_without_a_bundle_the_server_says_how_to_build_it_and_api_paths_stay_json(tmp_path: Path) -> None:
    app = FastAPI()
    add_ui_routes(app, tmp_path / "no-bundle")
    with TestClient(app) as client:
        page = client.get("/local/p/runs/x")
        assert page.status_code == 503 and "build_bundle.py" in page.text and "npm" in page.text
        assert client.get("/api/v1/nothing").json()["error"] == "not_found"
        escaped = client.get("/assets/..%2F..%2F..%2Fetc%2Fpasswd")  # a path out of the bundle's folder
        assert escaped.status_code == 404 and "root:" not in escaped.text


def test_the_bundle_is_served_with_an_spa_fallback(tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><div id=app></div>")
    (folder / "assets" / "index-abc.js").write_text("console.log(1)")
    app = FastAPI()
    add_ui_routes(app, folder)
    with TestClient(app) as client:
        for path in ("/", "/research/p", "/research/p/runs/r1?tab=media"):
            answer = client.get(path)
            assert answer.status_code == 200 and "id=app" in answer.text
            assert answer.headers["x-frame-options"] == "DENY"
        script = client.get("/assets/index-abc.js")
        assert script.text == "console.log(1)" and "immutable" in script.headers["cache-control"]
        assert client.get("/assets/missing.js").status_code == 404


def _importer(tmp_path: Path, root: Path) -> tuple[Importer, Scope]:
    state = open_state(ServerConfig(data=str(tmp_path / "cache")))
    with state.db.write() as session:
        key = create_key(session, "local", "ui", "admin")
    with state.db.read() as session:
        identity = authenticate(session.connection(), state.secret, key)
    assert identity is not None
    scope = Scope(identity, "local", identity.teams["local"][0], "admin")
    return Importer(str(root), state, scope), scope


def _stored(importer: Importer, run_id: str) -> list[bytes]:
    from sqlalchemy import select

    from tracker_server._models import Run
    from tracker_server._raw_records import records_after

    with importer.state.db.read() as session:
        pk = session.scalars(select(Run.id).where(Run.run_id == run_id)).one()
        return [line for _, line in records_after(session, pk, 0)]


def test_the_importer_stores_every_record_once_and_waits_for_a_torn_line(tmp_path: Path, store: Path) -> None:
    run_dir = make_run(project="p", steps=20)
    importer, _ = _importer(tmp_path, store)
    assert importer.scan() == 1
    lines = (run_dir / "events.jsonl").read_bytes().splitlines()
    assert [orjson.loads(b) for b in _stored(importer, run_dir.name)] == [orjson.loads(line) for line in lines]
    assert importer.scan() == 0  # nothing new, nothing done
    last = orjson.loads(lines[-1])["seq"]
    record = orjson.dumps({"seq": last + 1, "t": time.time(), "type": "log", "step": 99, "data": {"loss": 0.5}})
    with open(run_dir / "events.jsonl", "ab") as log:
        log.write(record[:10])  # a torn tail: not a record yet
    importer.scan()
    assert len(_stored(importer, run_dir.name)) == len(lines)
    with open(run_dir / "events.jsonl", "ab") as log:
        log.write(record[10:] + b"\n")
    importer.scan()
    stored = _stored(importer, run_dir.name)
    assert len(stored) == len(lines) + 1 and orjson.loads(stored[-1])["data"] == {"loss": 0.5}
    restarted, _ = _importer(tmp_path, store)  # a restarted UI over the same cache resumes, exactly once
    restarted.scan()
    assert len(_stored(restarted, run_dir.name)) == len(lines) + 1


def _table_counts(importer: Importer) -> dict[str, int]:
    from sqlalchemy import func, select

    from tracker_server._models import Project, Record, RecordPack, Run, SeriesChunk

    with importer.state.db.read() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Project, Run, Record, RecordPack, SeriesChunk)}


def _listed(importer: Importer) -> set[tuple[str, str]]:
    from sqlalchemy import select

    from tracker_server._models import Project, Run

    with importer.state.db.read() as session:
        return set(session.execute(select(Project.name, Run.run_id).outerjoin(Run, Run.project_id == Project.id)))


def test_a_run_whose_folder_is_gone_leaves_the_ui_with_everything_it_stored(tmp_path: Path, store: Path) -> None:
    import shutil

    kept, deleted, other = make_run(project="p", steps=30), make_run(project="p", steps=30), make_run(project="q")
    importer, _ = _importer(tmp_path, store)
    importer.scan()
    full = _table_counts(importer)
    assert _listed(importer) == {("p", kept.name), ("p", deleted.name), ("q", other.name)}
    shutil.rmtree(deleted)
    assert importer.scan() == 1
    assert _listed(importer) == {("p", kept.name), ("q", other.name)}
    after = _table_counts(importer)
    assert after["series_chunks"] < full["series_chunks"] and after["records"] + after["record_packs"] < (
        full["records"] + full["record_packs"])  # its series and raw records went with it
    assert len(_stored(importer, kept.name)) == len(run_lines(kept))  # the other runs are untouched
    shutil.rmtree(store / "q")  # a whole project deleted while the UI is down: gone when it starts again
    restarted, _ = _importer(tmp_path, store)
    restarted.scan()
    assert _listed(restarted) == {("p", kept.name)}
    assert restarted.scan() == 0  # nothing more to do
    again = make_run(project="q")  # the same project made anew
    restarted.scan()
    assert _listed(restarted) == {("p", kept.name), ("q", again.name)}


def test_a_session_ends_with_sign_out_and_with_its_key(tmp_path: Path) -> None:
    server = Server(tmp_path / "server").start()
    try:
        key = new_key(server.data, "research", "laptop")
        with httpx.Client(base_url=server.url) as browser:
            assert browser.post("/api/v1/session", json={"key": "trk_" + "x" * 43}).status_code == 401
            assert browser.post("/api/v1/session", json={"key": key},
                                headers={"Origin": "http://evil.example"}).status_code == 403  # login CSRF
            opened = browser.post("/api/v1/session", json={"key": key}, headers={"Origin": server.url})
            assert opened.status_code == 200
            assert "httponly" in opened.headers["set-cookie"].lower()
            csrf = opened.json()["csrf"]
            assert browser.get("/api/v1/whoami").json()["teams"] == [{"name": "research", "role": "member"}]
            assert browser.delete("/api/v1/session").status_code == 403  # sign-out is a write: CSRF-checked
            assert browser.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 200
            assert browser.get("/api/v1/whoami").status_code == 401
            browser.post("/api/v1/session", json={"key": key})
            assert browser.get("/api/v1/whoami").status_code == 200
            assert server_cli(server.data, "keys", "revoke", "--name", "laptop").returncode == 0
            assert browser.get("/api/v1/whoami").status_code == 401  # revoking the key ends its sessions at once
        assert key not in (server.data / "tracker.db").read_bytes().decode("latin-1")
    finally:
        server.kill()


def test_tracker_ui_on_another_interface_needs_sign_in(tmp_path: Path, store: Path) -> None:
    run_dir = make_run(project="p", steps=3)
    proc, url, key, printed = start_ui_needing_sign_in(store, tmp_path)
    try:
        assert "token=" not in printed
        with httpx.Client(base_url=url) as browser:
            assert browser.get("/api/v1/runs/local/p").status_code == 401
            assert "tracker_session" not in browser.get("/?token=guess", follow_redirects=False).headers.get(
                "set-cookie", "")
            assert browser.post("/api/v1/session", json={"key": key}).status_code == 200
            listed = browser.get("/api/v1/runs/local/p").json()
            assert [run["id"] for run in listed["runs"]] == [run_dir.name]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


pytestmark = pytest.mark.slow


def test_tracker_finds_the_ui_command_through_the_entry_point_the_package_declares(tmp_path: Path) -> None:
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["tracker.commands"]
    assert declared["ui"] == "tracker_server.ui_cli:main"
    dist = tmp_path / "site" / "tracker_ui_plugin-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tracker-ui-plugin\nVersion: 0\n")
    (dist / "entry_points.txt").write_text(f"[tracker.commands]\nui = {declared['ui']}\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(ROOT)])}
    done = subprocess.run([sys.executable, "-m", "tracker_core.cli", "ui", "--help"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--no-browser" in done.stdout and "--dir" in done.stdout and "--host" in done.stdout


def test_the_importer_copies_the_stores_sweeps_and_follows_them_read_only(tmp_path: Path, store: Path) -> None:
    pytest.importorskip("optuna")
    import tracker_core
    from tracker_server.routers.sweeps import get_importance, get_sweep, list_trials

    config = {"method": "grid", "metric": {"name": "loss"}, "parameters": {"a": {"values": [1, 2, 3]}}}
    sweep_id = tracker_core.sweep(sweep=config, project="tune")

    def train() -> None:
        with tracker_core.init() as run:
            run.log({"loss": float(run.config["a"])})

    assert tracker_core.agent(sweep_id, function=train, count=2) == 2
    before = {p.name: p.stat().st_mtime_ns for p in (store / ".sweeps").iterdir()}
    importer, scope = _importer(tmp_path, store)
    importer.scan()
    answer = orjson.loads(get_sweep("local", "tune", sweep_id, scope, importer.state).body)
    assert (answer["state"], answer["method"], answer["config"], answer["counts"]) == (
        "running", "grid", config, {"finished": 2})
    trials = orjson.loads(list_trials("local", "tune", sweep_id, scope, importer.state).body)["trials"]
    assert [(t["params"], t["state"], t["value"]) for t in trials] == [({"a": 1}, "finished", 1.0),
                                                                       ({"a": 2}, "finished", 2.0)]
    assert {t["run_id"] for t in trials} == {r.id for r in tracker_core.Api().runs("tune")}
    few = orjson.loads(get_importance("local", "tune", sweep_id, scope, importer.state).body)
    assert few["importances"] is None and "at least 5 finished trials" in few["reason"]
    importer.sweeps.scan()  # SQLite may have made the WAL file for the first read-only reader
    assert importer.sweeps.scan() == 0  # nothing changed, nothing read

    assert tracker_core.agent(sweep_id, function=train) == 1  # the last grid point: the sweep finishes
    importer.scan()
    answer = orjson.loads(get_sweep("local", "tune", sweep_id, scope, importer.state).body)
    assert answer["state"] == "finished" and answer["counts"] == {"finished": 3}
    assert len(orjson.loads(list_trials("local", "tune", sweep_id, scope, importer.state).body)["trials"]) == 3
    assert set(before) <= {p.name for p in (store / ".sweeps").iterdir()}

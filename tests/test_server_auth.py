"""Every route needs a key, keeps teams apart (404 like a missing thing) and keeps viewers from writing (403)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from _server import Server, make_run, new_key, post_run, server_cli

from tracker_server._schema import HEAD

pytestmark = pytest.mark.slow

_WRITES = {"put", "post", "patch", "delete"}
_READING_POSTS = {"/api/v1/report-export"}  # renders what the caller sends: a viewer may export what it reads


_SWEEP = {"method": "grid", "parameters": {"lr": {"values": [0.1, 0.01]}}}


_REPORT = "---\ntitle: t\nproject: research/p\n---\n```panel\ntype: line\nmetric: loss\nruns: {}\n```\n"


def _request_for(path: str, method: str, run_id: str, sweep_id: str, report_id: str = "",  # type: ignore[type-arg]
                 share: str = "") -> tuple[str, dict]:
    blob = b"x"
    digest = hashlib.sha256(blob).hexdigest()
    values = {"entity": "research", "project": "p", "run_id": run_id, "path": "files/x.txt", "sha256": digest,
              "name": "ckpt", "selector": "v0", "alias": "best", "sweep_id": sweep_id, "number": "1",
              "report_id": report_id, "index": "0", "share": share, "token": "no-such-token"}
    url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    bodies = {
        ("put", "/api/v1/runs/{entity}/{project}/{run_id}"): {"json": {"meta": {}}},
        ("patch", "/api/v1/runs/{entity}/{project}/{run_id}"): {"json": {"notes": "n"}},
        ("post", "/api/v1/runs/{entity}/{project}/{run_id}/records"): {"content": b""},
        ("put", "/api/v1/runs/{entity}/{project}/{run_id}/files"): {"json": {"files": {}}},
        ("post", "/api/v1/blobs/{entity}/missing"): {"json": {"digests": [digest]}},
        ("put", "/api/v1/blobs/{entity}/{sha256}"): {"content": blob},
        ("post", "/api/v1/artifact-collections/{entity}/{project}/{name}"): {"json": _version(run_id)},
        ("put", "/api/v1/artifact-collections/{entity}/{project}/{name}/aliases/{alias}"): {"json": {"version": 0}},
        ("post", "/api/v1/sweeps/{entity}/{project}"): {"json": {"config": _SWEEP}},
        ("post", "/api/v1/sweeps/{entity}/{project}/{sweep_id}/claim"): {"json": {}},
        ("post", "/api/v1/sweeps/{entity}/{project}/{sweep_id}/trials/{number}/end"): {"json": {"state": "finished"}},
        ("put", "/api/v1/sweeps/{entity}/{project}/{sweep_id}/state"): {"json": {"state": "paused"}},
        ("post", "/api/v1/sweeps/{entity}/{project}/{sweep_id}/trials/{number}/heartbeat"): {},
        ("post", "/api/v1/sweeps/{entity}/{project}/{sweep_id}/trials/{number}/report"): {
            "json": {"value": 1.0, "iteration": 1}},
        ("post", "/api/v1/reports"): {"json": {"project": "research/p", "markdown": _REPORT}},
        ("put", "/api/v1/reports/{report_id}"): {"json": {"base_revision": 1, "markdown": _REPORT}},
        ("post", "/api/v1/reports/{report_id}/restore"): {"json": {"revision": 1, "base_revision": 1}},
        ("post", "/api/v1/reports/{report_id}/comments"): {"json": {"text": "hi"}},
        ("post", "/api/v1/report-export"): {"json": {"report": {"title": "t", "blocks": []}, "data": []}},
    }
    params = {"metric": "loss"} if "/best/" in path else {"from": 1, "to": 1} if path.endswith("/diff") else {}
    return url, {**bodies.get((method, path), {}), "params": params}


def _version(run_id: str) -> dict:  # type: ignore[type-arg]
    from tracker_core.artifacts._manifest import manifest_digest

    files = [{"path": "x.txt", "sha256": hashlib.sha256(b"x").hexdigest(), "size": 1}]
    return {"type": "model", "digest": manifest_digest(files), "files": files, "run_id": run_id}


def test_every_route_is_authenticated_team_scoped_and_read_only_for_viewers(server: Server) -> None:
    member = new_key(server.data, "research", "sf-box", db=server.db)
    viewer = new_key(server.data, "research", "reader", "viewer", db=server.db)
    outsider = new_key(server.data, "vision", "london-box", "admin", db=server.db)
    run_id = post_run(server.client(member), "research", make_run(steps=3))
    with server.client(member) as client:  # a file for the file routes
        digest = hashlib.sha256(b"x").hexdigest()
        assert client.put(f"/api/v1/blobs/research/{digest}", content=b"x").status_code == 201
        assert client.put(f"/api/v1/runs/research/p/{run_id}/files",
                          json={"files": {"files/x.txt": {"sha256": digest, "size": 1}}}).status_code == 200
        assert client.post("/api/v1/artifact-collections/research/p/ckpt", json=_version(run_id)).status_code == 200
        sweep_id = client.post("/api/v1/sweeps/research/p", json={"config": _SWEEP}).json()["id"]
        report_id = client.post("/api/v1/reports", json={"project": "research/p", "markdown": _REPORT}).json()["id"]
        share = client.post(f"/api/v1/reports/{report_id}/shares").json()["id"]
    with server.client() as anonymous:
        assert anonymous.get("/healthz").json() == {"ok": True, "schema": HEAD}
        assert anonymous.get("/openapi.json").status_code == 401
    spec = server.client(viewer).get("/openapi.json").json()
    operations = [(path, method) for path, ops in spec["paths"].items() for method in ops if path != "/healthz"]
    assert len(operations) >= 18
    assert ("/openapi.json", "get") not in operations
    operations.append(("/openapi.json", "get"))
    checked = 0
    with (server.client() as anonymous, server.client("trk_" + "A" * 43) as forged, server.client(outsider) as other,
          server.client(viewer) as reader):
        for path, method in operations:
            url, options = _request_for(path, method, run_id, sweep_id, report_id, share)
            if path.startswith("/api/v1/shared/"):  # a share token is the credential: an unknown one opens nothing
                assert anonymous.request(method.upper(), url, **options).status_code == 404, url
                checked += 1
                continue
            for client, expected in ((anonymous, 401), (forged, 401)):
                answer = client.request(method.upper(), url, **options)
                assert answer.status_code == expected, (method, url, answer.text)
                assert answer.json()["error"] == "unauthorized"
            if "{entity}" in path:
                answer = other.request(method.upper(), url, **options)
                assert answer.status_code == 404, (method, url, answer.text)
                nowhere = other.request(method.upper(), url.replace("/research", "/nosuchteam", 1), **options)
                assert nowhere.status_code == 404
                assert answer.json() == {**nowhere.json(), "detail": nowhere.json()["detail"].replace("nosuchteam",
                                                                                                    "research")}
            if method in _WRITES and path not in _READING_POSTS:
                answer = reader.request(method.upper(), url, **options)
                assert answer.status_code == 403, (method, url, answer.text)
                assert answer.json()["error"] == "forbidden"
            elif "/events/" not in path:
                assert reader.request(method.upper(), url, **options).status_code == 200, (method, url)
            checked += 1
    assert checked == len(operations)


def test_keys_are_listed_and_revocation_takes_effect_at_once(server: Server) -> None:
    key = new_key(server.data, "research", "laptop", db=server.db)
    admin = new_key(server.data, "research", "boss", "admin", db=server.db)
    with server.client(key) as client:
        assert client.get("/api/v1/whoami").json() == {
            "user": "laptop", "key_name": "laptop", "teams": [{"name": "research", "role": "member"}]}
        listed = server_cli(server.data, "keys", "list", "--json", db=server.db)
        assert listed.returncode == 0
        assert key not in listed.stdout and admin not in listed.stdout  # only prefixes are shown
        assert '"laptop"' in listed.stdout and '"boss"' in listed.stdout
        done = server_cli(server.data, "keys", "revoke", "--name", "laptop", db=server.db)
        assert done.returncode == 0 and "revoked 1" in done.stdout
        assert client.get("/api/v1/whoami").status_code == 401
    with server.client(admin) as client:
        assert client.get("/api/v1/whoami").status_code == 200
    assert server_cli(server.data, "keys", "revoke", "--name", "laptop", db=server.db).returncode == 1
    stored = Path(server.data / "tracker.db")
    if stored.exists():
        assert key.encode() not in stored.read_bytes() and admin.encode() not in stored.read_bytes()
    assert key not in server.log.read_text()

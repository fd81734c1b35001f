"""Artifacts as team-server objects, end to end: a real server (SQLite, then PostgreSQL), real online runs
in two store folders (SF and London), downloads verified against their digests, the server's lineage."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from _server import Server, make_run, new_key, post_run

import tracker_core
from tracker_core.artifacts import ArtifactError
from tracker_core.store._run_dir import RunDir
from tracker_core.sync import ServerClient
from tracker_core.sync._remote import RemoteArtifact
from tracker_core.sync._sync import sync_run

pytestmark = pytest.mark.slow

CHECKPOINT = os.urandom(300_000) + b"weights"


def use_store(monkeypatch: pytest.MonkeyPatch, root: Path, server: Server, key: str, mode: str = "online") -> None:
    monkeypatch.setenv("TRACKER_DIR", str(root))
    monkeypatch.setenv("TRACKER_SERVER", server.url)
    monkeypatch.setenv("TRACKER_API_KEY", key)
    monkeypatch.setenv("TRACKER_MODE", mode)


def log_checkpoint(folder: Path, name: str = "checkpoint", aliases: tuple[str, ...] = ("best",),
                   content: bytes = CHECKPOINT) -> tuple[Any, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.bin").write_bytes(content)
    (folder / "config.json").write_text('{"layers": 2}')
    run = tracker_core.init(project="p", entity="research")
    artifact = tracker_core.Artifact(name, type="model", metadata={"epoch": 3})
    artifact.add_file(str(folder / "model.bin"))
    artifact.add_file(str(folder / "config.json"))
    logged = run.log_artifact(artifact, aliases=list(aliases))
    run.log({"loss": 0.5})
    run.finish()
    return run, logged


def server_version(server: Server, key: str, ref: str, project: str = "p") -> dict[str, Any]:
    name, _, selector = ref.partition(":")
    with server.client(key) as client:
        answer = client.get(f"/api/v1/artifact-collections/research/{project}/{name}/{selector or 'latest'}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_london_uses_sf_checkpoint_verified_with_lineage_on_the_server(
        server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sf_key = new_key(server.data, "research", "sf-gpu-box", db=server.db)
    london_key = new_key(server.data, "research", "london-box", db=server.db)
    use_store(monkeypatch, tmp_path / "sf", server, sf_key)
    producer, logged = log_checkpoint(tmp_path / "src")

    version = server_version(server, sf_key, "checkpoint:best")
    assert version["version"] == 0 and version["digest"] == logged.digest and version["type"] == "model"
    assert version["aliases"] == ["latest", "best"] and version["metadata"] == {"epoch": 3}
    assert version["created_by"]["id"] == producer.id
    assert {f["path"]: f["size"] for f in version["files"]} == {"model.bin": len(CHECKPOINT), "config.json": 13}
    with server.client(sf_key) as client:  # the run page still lists the version's files
        files = client.get(f"/api/v1/runs/research/p/{producer.id}/files").json()["files"]
    assert files["artifacts/checkpoint/v0/model.bin"]["size"] == len(CHECKPOINT)

    use_store(monkeypatch, tmp_path / "london", server, london_key)
    consumer = tracker_core.init(project="p", entity="research")
    used = consumer.use_artifact("checkpoint:best")
    folder = Path(used.download())
    assert (folder / "model.bin").read_bytes() == CHECKPOINT
    assert used.digest == logged.digest and used.version == 0
    assert {f["path"]: f["sha256"] for f in used.files()} == {f["path"]: f["sha256"] for f in version["files"]}
    again = consumer.use_artifact("research/p/checkpoint:v0")  # a full reference; the local copy is reused
    assert again.digest == logged.digest
    consumer.finish()

    used_records = [json.loads(line) for line in Path(consumer.dir or "", "events.jsonl").read_text().splitlines()
                    if '"direction":"used"' in line]
    assert {(r["entity"], r.get("project")) for r in used_records} == {("research", None)}
    elsewhere = tracker_core.init(project="p", entity="research")  # a use of a same-named version of another team
    elsewhere._records.append({"type": "artifact", "direction": "used", "name": "checkpoint", "version": 0,
                               "digest": logged.digest, "entity": "vision"})
    elsewhere.finish()

    version = server_version(server, london_key, "checkpoint:v0")
    assert [run["id"] for run in version["used_by"]] == [consumer.id]  # lineage stays within the team
    with server.client(london_key) as client:
        graph = client.get("/api/v1/artifact-collections/research/p/checkpoint/latest/lineage").json()
    nodes = {node["id"]: node for node in graph["nodes"]}
    label = {key: node.get("ref") or node["run_id"] for key, node in nodes.items()}
    edges = {(label[edge["from"]], label[edge["to"]]) for edge in graph["edges"]}
    assert edges == {(producer.id, "checkpoint:v0"), ("checkpoint:v0", consumer.id)}

    api = tracker_core.Api(server=server.url)  # the same StoredArtifact interface, from the server
    remote = api.artifact("research/p/checkpoint:v0")
    assert isinstance(remote, RemoteArtifact)
    assert remote.get_entry("model.bin").size == len(CHECKPOINT)
    assert Path(remote.download(tmp_path / "got"), "model.bin").read_bytes() == CHECKPOINT
    assert remote.logged_by().id == producer.id and [r.id for r in remote.used_by()] == [consumer.id]
    listed = api.artifacts("research/p")
    assert [(a.name, a.version, a.digest) for a in listed] == [("checkpoint", 0, logged.digest)]
    assert {f["path"] for f in listed[0].files()} == {"model.bin", "config.json"}
    with pytest.raises(ArtifactError, match=r"checkpoint:v7 is not on .*versions v0 and aliases latest, best"):
        api.artifact("research/p/checkpoint:v7")


def test_the_same_file_logged_twice_travels_once_and_a_corrupted_blob_fails_clearly(
        server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key(server.data, "research", "sf-gpu-box", db=server.db)
    use_store(monkeypatch, tmp_path / "a", server, key)
    log_checkpoint(tmp_path / "src")
    use_store(monkeypatch, tmp_path / "b", server, key, mode="offline")  # another store, synced afterwards
    second, logged = log_checkpoint(tmp_path / "src2", name="checkpoint-copy", aliases=())
    use_store(monkeypatch, tmp_path / "b", server, key)  # an online run uses it before its producer is synced
    early = tracker_core.init(project="p", entity="research")
    early.use_artifact("checkpoint-copy:latest")
    early.finish()
    client = ServerClient(server.url, key)
    done = sync_run(client, RunDir(str(tmp_path / "b"), "p", second.id), entity="research")
    assert done.error is None
    assert done.blobs == 0  # model.bin, config.json and the manifest were on the server already
    copy = server_version(server, key, "checkpoint-copy:latest")
    assert copy["digest"] == logged.digest and copy["created_by"]["id"] == second.id
    assert [run["id"] for run in copy["used_by"]] == [early.id]  # the earlier use counts once it is registered

    model_sha = hashlib.sha256(CHECKPOINT).hexdigest()
    if server.blobs is None:  # the server's own blob folder: damage the stored checkpoint
        blob = server.data / "blobs" / model_sha[:2] / model_sha
        blob.chmod(0o644)
        blob.write_bytes(b"X" + CHECKPOINT[1:])
    use_store(monkeypatch, tmp_path / "c", server, key)
    consumer = tracker_core.init(project="p", entity="research")
    with pytest.raises(ArtifactError, match=r"'model.bin' arrived corrupted: its sha256 is [0-9a-f]{64}, the "
                                            rf"manifest says {model_sha}"):
        consumer.use_artifact("checkpoint:latest")
    store = tracker_core.artifacts.ArtifactStore(tmp_path / "c")
    assert store.names() == []  # no half-downloaded version left in place
    assert not (store._blobs.has(model_sha))
    consumer.finish()


def test_artifact_routes_refuse_bad_input_and_other_teams(server: Server, tmp_path: Path) -> None:
    member = new_key(server.data, "research", "sf-box", db=server.db)
    viewer = new_key(server.data, "research", "reader", "viewer", db=server.db)
    outsider = new_key(server.data, "vision", "london-box", "admin", db=server.db)
    run_id = post_run(server.client(member), "research", make_run(steps=2))
    blob = b"weights"
    sha = hashlib.sha256(blob).hexdigest()
    other = hashlib.sha256(b"never uploaded").hexdigest()
    files = [{"path": "a.bin", "sha256": sha, "size": len(blob)}, {"path": "b.bin", "sha256": other, "size": 14}]
    from tracker_core.artifacts._manifest import manifest_digest

    body = {"type": "model", "digest": manifest_digest(files), "files": files, "run_id": run_id, "aliases": ["best"]}
    url = "/api/v1/artifact-collections/research/p/ckpt"
    with server.client(member) as client:
        assert client.put(f"/api/v1/blobs/research/{sha}", content=blob).status_code == 201
        missing = client.post(url, json=body)
        assert missing.status_code == 409 and missing.json()["error"] == "missing_blobs"
        assert missing.json()["missing"] == [other]
        nothing = client.get("/api/v1/artifact-collections/research/p").json()
        assert nothing == {"collections": []}  # nothing stored half
        assert client.post(url, json={**body, "files": files[:1]}).status_code == 422  # digest of two files
        one = [files[0]]
        good = {**body, "files": one, "digest": manifest_digest(one)}
        for bad in ({"path": "../x", "sha256": sha, "size": 7}, {"path": "/etc/x", "sha256": sha, "size": 7}):
            answer = client.post(url, json={**good, "files": [bad], "digest": manifest_digest([bad])})
            assert answer.status_code == 400, answer.text
        assert client.post(url, json={**good, "aliases": ["v3"]}).status_code == 400
        first = client.post(url, json=good)
        assert first.status_code == 200 and first.json()["version"] == 0
        assert client.post(url, json=good).json()["version"] == 0  # the same digest is the same version
        assert client.post(url, json={**good, "type": "dataset"}).json()["error"] == "type_mismatch"
        two = [{"path": "a.bin", "sha256": sha, "size": 7}, {"path": "c/a.bin", "sha256": sha, "size": 7}]
        second = client.post(url, json={**good, "files": two, "digest": manifest_digest(two), "aliases": []})
        assert second.json()["version"] == 1 and second.json()["aliases"] == ["latest"]
        assert client.get(f"{url}/best").json()["version"] == 0
        moved = client.put(f"{url}/aliases/best", json={"version": 1})
        assert moved.status_code == 200 and moved.json()["aliases"] == ["latest", "best"]
        assert client.get(f"{url}/best").json()["version"] == 1
        assert client.put(f"{url}/aliases/latest", json={"version": 0}).status_code == 400
        assert client.put(f"{url}/aliases/x", json={"version": 9}).status_code == 404
        assert [v["version"] for v in client.get(url).json()["versions"]] == [0, 1]
    with server.client(viewer) as client:
        assert client.get(f"{url}/v1").status_code == 200
        assert client.put(f"{url}/aliases/best", json={"version": 0}).status_code == 403
        assert client.post(url, json=good).status_code == 403
    with server.client(outsider) as client:
        for path in (url, f"{url}/v0", f"{url}/v0/lineage", "/api/v1/artifact-collections/research/p"):
            assert client.get(path).status_code == 404
        assert client.post(url, json=good).status_code == 404
    api = tracker_core.Api(server=server.url, api_key=outsider)
    with pytest.raises(ArtifactError, match="not on"):
        api.artifact("research/p/ckpt:v0")


def test_over_s3_a_checkpoint_is_stored_once_used_verified_and_a_damaged_object_refused(
        seaweed: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = seaweed.bucket()
    server = Server(tmp_path / "server", blobs=f"s3://{bucket}/tracker", env=seaweed.env).start()
    try:
        key = new_key(server.data, "research", "sf-gpu-box")
        use_store(monkeypatch, tmp_path / "sf", server, key)
        _, logged = log_checkpoint(tmp_path / "src")
        model_sha = hashlib.sha256(CHECKPOINT).hexdigest()
        s3 = seaweed.client()
        assert s3.get_object(Bucket=bucket, Key=f"tracker/{model_sha}")["Body"].read() == CHECKPOINT
        use_store(monkeypatch, tmp_path / "london", server, key)
        consumer = tracker_core.init(project="p", entity="research")
        used = consumer.use_artifact("research/p/checkpoint:best")
        assert Path(used.download(), "model.bin").read_bytes() == CHECKPOINT and used.digest == logged.digest
        consumer.finish()
        s3.put_object(Bucket=bucket, Key=f"tracker/{model_sha}", Body=CHECKPOINT[:-1] + b"X")
        with pytest.raises(ArtifactError, match=r"'model\.bin' arrived corrupted"):
            tracker_core.Api(server=server.url, dir=tmp_path / "elsewhere").artifact("research/p/checkpoint:v0")
        assert tracker_core.artifacts.ArtifactStore(tmp_path / "elsewhere").names() == []
    finally:
        server.kill()


def test_a_refused_registration_never_holds_up_the_runs_records(
        server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key(server.data, "research", "sf-gpu-box", db=server.db)
    use_store(monkeypatch, tmp_path / "a", server, key)
    log_checkpoint(tmp_path / "src")
    use_store(monkeypatch, tmp_path / "b", server, key)  # another store logs the name with another type
    run = tracker_core.init(project="p", entity="research")
    (tmp_path / "data.txt").write_text("rows")
    run.log_artifact(str(tmp_path / "data.txt"), name="checkpoint", type="dataset")
    run.log({"loss": 0.25})
    run.finish()
    with server.client(key) as client:
        stored = client.get(f"/api/v1/runs/research/p/{run.id}").json()
        assert stored["state"] == "finished" and stored["summary"]["loss"] == 0.25
        listed = client.get("/api/v1/artifact-collections/research/p/checkpoint").json()
    assert [(v["version"], v["type"]) for v in listed["versions"]] == [(0, "model")]


def test_versions_come_a_page_at_a_time_and_the_client_reads_every_page(
        server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key(server.data, "research", "sf-gpu-box", db=server.db)
    use_store(monkeypatch, tmp_path / "a", server, key)
    for epoch in range(3):
        log_checkpoint(tmp_path / f"src{epoch}", name="paged", aliases=(), content=CHECKPOINT + bytes([epoch]))
    url = "/api/v1/artifact-collections/research/p/paged"
    with server.client(key) as client:
        first = client.get(url, params={"limit": 2}).json()
        last = client.get(url, params={"limit": 2, "after": first["next_after"]}).json()
        assert client.get(url, params={"limit": 0}).status_code == 400
    assert [v["version"] for v in first["versions"]] == [0, 1] and first["next_after"] == 1
    assert [v["version"] for v in last["versions"]] == [2] and last["next_after"] is None
    listed = tracker_core.Api(server=server.url, api_key=key).artifacts("research/p/paged")
    assert [a.version for a in listed] == [0, 1, 2]

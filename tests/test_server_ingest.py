"""Ingest on a real server process: exactly once by seq, across restarts, and bad input stores nothing."""

from __future__ import annotations

import gzip
import hashlib
import signal
from pathlib import Path

import orjson
import pytest
from _server import Server, make_run, new_key, post_run, run_lines, run_meta

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path, db_url: str | None):  # type: ignore[no-untyped-def]
    srv = Server(tmp_path / "server", db=db_url, extra=["--max-batch-bytes", "200000"])
    srv.start()
    yield srv
    srv.kill()


def _key(server: Server, role: str = "member", team: str = "research") -> str:
    return new_key(server.data, team, f"{team}-{role}", role, db=server.db)


def _records(client, path: str) -> list[dict]:  # type: ignore[no-untyped-def]
    answer = client.get(f"{path}/records", params={"limit": 100000})
    assert answer.status_code == 200, answer.text
    return answer.json()["records"]  # type: ignore[no-any-return]


def test_records_are_stored_exactly_once_across_resends_gaps_and_a_killed_server(server: Server) -> None:
    run_dir = make_run(steps=40)
    lines = run_lines(run_dir)
    meta = run_meta(run_dir)
    path = f"/api/v1/runs/research/p/{meta['id']}"
    key = _key(server)
    with server.client(key) as client:
        assert client.put(path, json={"meta": meta}).json() == {"acked_seq": 0}
        assert client.post(f"{path}/records", content=b"".join(lines[:10])).json() == {"acked_seq": 10}
        assert client.post(f"{path}/records", content=b"".join(lines[:10])).json() == {"acked_seq": 10}  # a resend
        gap = client.post(f"{path}/records", content=b"".join(lines[12:20]))
        assert gap.status_code == 409
        assert gap.json()["error"] == "seq_gap" and gap.json()["acked_seq"] == 10
        assert client.post(f"{path}/records", content=b"".join(lines[5:20])).json() == {"acked_seq": 20}  # overlap
    server.signal(signal.SIGKILL)
    server.start()
    with server.client(key) as client:
        assert client.get(f"{path}/acked").json() == {"acked_seq": 20}
        assert client.put(path, json={"meta": meta}).json() == {"acked_seq": 20}
        body = gzip.compress(b"".join(lines[15:]))
        answer = client.post(f"{path}/records", content=body,
                             headers={"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"})
        assert answer.json() == {"acked_seq": len(lines)}
        stored = _records(client, path)
        assert [orjson.dumps(r) + b"\n" for r in stored] == [orjson.dumps(orjson.loads(line)) + b"\n" for line in lines]
        run = client.get(path).json()
        assert run["state"] == "finished" and run["last_seq"] == len(lines)
        history = client.get(f"{path}/history", params={"keys": "loss"}).json()
        assert history["series"]["loss"]["x"] == list(range(40))  # nothing twice


def test_bad_batches_get_a_clear_4xx_and_store_nothing(server: Server) -> None:
    run_dir = make_run(steps=5)
    lines = run_lines(run_dir)
    meta = run_meta(run_dir)
    path = f"/api/v1/runs/research/p/{meta['id']}"
    with server.client(_key(server)) as client:
        client.put(path, json={"meta": meta})
        cases = {
            b"".join(lines[:2]) + b"{not json\n" + b"".join(lines[2:]): (400, "malformed"),
            b"".join(lines[:2]) + b'[1, 2]\n': (400, "malformed"),
            b"".join(lines[:2]) + b'{"seq": "3", "type": "log"}\n': (400, "malformed"),
            b"".join(lines[:2]) + b'{"seq": 3, "t": 1.0, "type": "define_metric"}\n': (400, "malformed"),
            b"x" * 300000: (413, "too_large"),
        }
        for body, (status, error) in cases.items():
            answer = client.post(f"{path}/records", content=body)
            assert answer.status_code == status, answer.text
            assert answer.json()["error"] == error
            assert client.get(f"{path}/acked").json() == {"acked_seq": 0}
        assert client.post(f"{path}/records", content=b"x" * 300000).json()["limit_bytes"] == 200000
        bomb = gzip.compress(b"\n" * 5_000_000)
        answer = client.post(f"{path}/records", content=bomb, headers={"Content-Encoding": "gzip"})
        assert answer.status_code == 413
        answer = client.post(f"{path}/records", content=b"garbage", headers={"Content-Encoding": "gzip"})
        assert answer.status_code == 400
        assert _records(client, path) == []
        unknown = client.post("/api/v1/runs/research/p/nosuchrun/records", content=lines[0])
        assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
        assert client.put("/api/v1/runs/research/p/bad$id", json={"meta": {}}).status_code == 400
        assert client.put("/api/v1/runs/research/p/-bad", json={"meta": {}}).status_code == 400
        assert client.put("/api/v1/runs/research/.hidden/abc", json={"meta": {}}).status_code == 400


def test_blobs_are_verified_deduplicated_and_mapped_to_run_files(server: Server, tmp_path: Path) -> None:
    run_dir = make_run(steps=3)
    meta = run_meta(run_dir)
    path = f"/api/v1/runs/research/p/{meta['id']}"
    content = b"model weights " * 10000
    digest = hashlib.sha256(content).hexdigest()
    other = hashlib.sha256(b"other").hexdigest()
    with server.client(_key(server)) as client, server.client(_key(server, team="vision")) as vision:
        post_run(client, "research", run_dir)
        assert client.post("/api/v1/blobs/research/missing", json={"digests": [digest, other]}).json() == {
            "missing": [digest, other]}
        wrong = client.put(f"/api/v1/blobs/research/{other}", content=content)
        assert wrong.status_code == 400 and wrong.json()["error"] == "digest_mismatch"
        assert client.get(f"/api/v1/blobs/research/{other}").status_code == 404
        assert client.put(f"/api/v1/blobs/research/{digest}", content=content).status_code == 201
        assert client.put(f"/api/v1/blobs/research/{digest}", content=content).status_code == 200
        assert client.post("/api/v1/blobs/research/missing", json={"digests": [digest, other]}).json() == {
            "missing": [other]}
        assert client.get(f"/api/v1/blobs/research/{digest}").content == content
        # another team does not hold it until it uploads the bytes itself (stored once all the same)
        assert vision.get(f"/api/v1/blobs/vision/{digest}").status_code == 404
        assert vision.post("/api/v1/blobs/vision/missing", json={"digests": [digest]}).json() == {"missing": [digest]}
        for bad in ("../etc/passwd", "/abs/file", "files\\out.log", "files/../x", "files//x", ""):
            answer = client.put(f"{path}/files", json={"files": {bad: {"sha256": digest, "size": len(content)}}})
            assert answer.status_code == 400, bad
        missing = client.put(f"{path}/files", json={"files": {"files/a.bin": {"sha256": digest, "size": 1},
                                                              "files/b.bin": {"sha256": other, "size": 5}}})
        assert missing.status_code == 409 and missing.json() == {**missing.json(), "missing": [other]}
        assert client.get(f"{path}/files").json() == {"files": {}}
        mapped = client.put(f"{path}/files", json={"files": {"checkpoints/model.pt": {"sha256": digest,
                                                                                      "size": len(content)}}})
        assert mapped.status_code == 200
        assert client.get(f"{path}/files").json() == {"files": {"checkpoints/model.pt": {"sha256": digest,
                                                                                         "size": len(content)}}}
        assert client.get(f"{path}/files/checkpoints/model.pt").content == content
        assert client.get(f"{path}/files/checkpoints/none.pt").status_code == 404
    stored = list((tmp_path / "server" / "blobs").rglob(digest))
    assert len(stored) == 1 and stored[0].read_bytes() == content


def _log(seq: int, step: int, data: dict) -> bytes:  # type: ignore[type-arg]
    return orjson.dumps({"seq": seq, "t": 1000.0 + step / 100, "type": "log", "step": step, "data": data}) + b"\n"


def _expected(lines: list[bytes], key: str) -> tuple[list[int], list[object]]:
    """A key's history as the raw records say: the later value at a step wins, steps in order."""
    by_step: dict[int, object] = {}
    for line in lines:
        record = orjson.loads(line)
        if record["type"] == "log" and key in record["data"]:
            by_step[record["step"]] = record["data"][key]
    return sorted(by_step), [by_step[step] for step in sorted(by_step)]


def test_large_batches_of_many_keys_cross_chunks_and_equal_the_raw_records(tmp_path: Path,
                                                                           db_url: str | None) -> None:
    """Batches of 5,000 steps: 700 keys in one batch (their last chunks read in several queries), a key crossing
    the 8,192-point chunk boundary, a step repeated across two batches, integers, NaN and text; a batch with a bad
    record at its end stores nothing and its resend without it is taken; the history equals the raw records,
    and a rebuild from the raw records (a rewind that keeps every step) gives the same history."""
    server = Server(tmp_path / "server", db=db_url)
    server.start()
    try:
        key = _key(server)
        lines = [orjson.dumps({"seq": 1, "t": 1000.0, "type": "status", "status": "running"}) + b"\n"]

        def row(step: int) -> dict:  # type: ignore[type-arg]
            data: dict = {"a": step * 0.5, "b": step, f"many/{step % 700}": step / 7}  # type: ignore[type-arg]
            if step % 997 == 0:
                data["c"] = "text" if step % 2 else {"$f": "nan"}
            elif step % 3 == 0:
                data["c"] = step * 0.25
            return data

        first = [_log(len(lines) + i + 1, step, row(step)) for i, step in enumerate(range(5000))]
        lines += first
        second = [_log(len(lines) + i + 1, step, {**row(step), "a": -1.0} if step == 4999 else row(step))
                  for i, step in enumerate(range(4999, 10000))]
        lines += second
        third = [_log(len(lines) + i + 1, step, row(step)) for i, step in enumerate(range(10000, 10100))]
        bad = orjson.dumps({"seq": len(lines) + len(third) + 1, "t": 2000.0, "type": "log", "step": 10100,
                            "data": 5}) + b"\n"
        path = "/api/v1/runs/research/p/big"
        with server.client(key) as client:
            assert client.put(path, json={"meta": {}}).json() == {"acked_seq": 0}
            assert client.post(f"{path}/records", content=lines[0] + b"".join(first)).json() == {"acked_seq": 5001}
            assert client.post(f"{path}/records", content=b"".join(second)).json() == {"acked_seq": 10002}
            history = client.get(f"{path}/history", params={"keys": ["a", "many/3"]}).json()["series"]
            failed = client.post(f"{path}/records", content=b"".join(third) + bad)
            assert failed.status_code == 400 and failed.json()["error"] == "malformed"
            assert client.get(f"{path}/acked").json() == {"acked_seq": 10002}
            assert client.get(f"{path}/history", params={"keys": ["a", "many/3"]}).json()["series"] == history
            assert client.post(f"{path}/records", content=b"".join(third)).json() == {"acked_seq": 10102}
            lines += third
            keys = ["a", "b", "c", "many/0", "many/699"]
            stored = client.get(f"{path}/history", params={"keys": keys}).json()["series"]
            for name in keys:
                steps, values = _expected(lines, name)
                assert stored[name] == {"x": steps, "y": values}, name
            assert len(stored["a"]["x"]) == 10100 and stored["a"]["y"][4999] == -1.0
            assert [orjson.dumps(r) for r in _records(client, path)] == [orjson.dumps(orjson.loads(x)) for x in lines]
            rewind = orjson.dumps({"seq": 10103, "t": 3000.0, "type": "rewind", "step": 20000}) + b"\n"
            assert client.post(f"{path}/records", content=rewind).json() == {"acked_seq": 10103}
            assert client.get(f"{path}/history", params={"keys": keys}).json()["series"] == stored
            run = client.get(path).json()
            assert run["last_seq"] == 10103
    finally:
        server.kill()

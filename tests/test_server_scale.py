"""Horizontal scale on existing engines: two server processes over one PostgreSQL and one S3 store
(a real SeaweedFS); a run streamed to one is read live from the other. And several workers on one port."""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from _server import SeaweedS3, Server, make_run, new_key, pg_database, run_lines, run_meta

import tracker_core

pytestmark = pytest.mark.slow


@pytest.fixture
def postgres():  # type: ignore[no-untyped-def]
    yield from pg_database()


def test_two_servers_over_one_postgresql_and_s3_serve_one_live_run(tmp_path: Path, postgres: str,
                                                                   seaweed: SeaweedS3) -> None:
    bucket = seaweed.bucket()
    blobs = f"s3://{bucket}/tracker"
    a = Server(tmp_path / "a", db=postgres, blobs=blobs, env=seaweed.env).start()
    b = Server(tmp_path / "b", db=postgres, blobs=blobs, env=seaweed.env).start()
    try:
        key = new_key(a.data, "research", "sf-box", db=postgres)
        run = tracker_core.init(project="p", config={"lr": 3e-4})
        run.log({"loss": 1.0}, step=0)
        run_dir = Path(run.dir)
        meta = run_meta(run_dir)
        path = f"/api/v1/runs/research/p/{meta['id']}"
        with a.client(key) as writer, b.client(key) as reader:
            writer.put(path, json={"meta": meta})
            sent = run_lines(run_dir)
            assert writer.post(f"{path}/records", content=b"".join(sent)).json() == {"acked_seq": len(sent)}
            assert reader.get(path).json()["last_seq"] == len(sent)
            events: queue.Queue[dict[str, Any]] = queue.Queue()
            stop = threading.Event()

            def listen() -> None:
                try:
                    with b.client(key) as streamer, streamer.stream(
                            "GET", "/api/v1/events/research/p", params={"run": meta["id"]}, timeout=60) as stream:
                        for line in stream.iter_lines():
                            if line.startswith("data: "):
                                events.put(orjson.loads(line[6:]))
                except httpx.HTTPError:
                    if not stop.is_set():
                        raise

            threading.Thread(target=listen, daemon=True).start()
            assert events.get(timeout=30)["id"] == meta["id"]  # the run event that opens a run's stream
            latencies = []
            for step in range(1, 6):
                run.log({"loss": 1.0 / (step + 1)}, step=step)
                lines = run_lines(run_dir)
                new = lines[len(sent):]
                started = time.monotonic()
                assert writer.post(f"{path}/records", content=b"".join(new)).status_code == 200
                wanted = {orjson.loads(line)["seq"] for line in new}
                while wanted:
                    event = events.get(timeout=30)
                    wanted.discard(event["record"]["seq"])
                latencies.append(time.monotonic() - started)
                sent = lines
            assert max(latencies) < 10
            history = reader.get(f"{path}/history", params={"keys": "loss"}).json()["series"]["loss"]
            assert history["x"] == list(range(6))
            content = b"checkpoint " * 50000
            digest = hashlib.sha256(content).hexdigest()
            assert writer.put(f"/api/v1/blobs/research/{digest}", content=content).status_code == 201
            assert reader.post("/api/v1/blobs/research/missing", json={"digests": [digest]}).json() == {"missing": []}
            assert reader.get(f"/api/v1/blobs/research/{digest}").content == content
            stored = seaweed.client().get_object(Bucket=bucket, Key=f"tracker/{digest}")["Body"].read()
            assert stored == content
            assert not (tmp_path / "a" / "blobs").exists() and not (tmp_path / "b" / "blobs").exists()
            stop.set()
    finally:
        tracker_core.finish()
        a.kill()
        b.kill()


def test_several_workers_share_one_port_and_stop_on_sigterm(tmp_path: Path) -> None:
    import signal

    server = Server(tmp_path / "server", extra=["--workers", "2"]).start()
    try:
        key = new_key(server.data, "research", "box")
        run_dir = make_run(steps=20)
        meta = run_meta(run_dir)
        path = f"/api/v1/runs/research/p/{meta['id']}"
        lines = run_lines(run_dir)
        with server.client(key) as client:
            client.put(path, json={"meta": meta})
            for line in lines:  # one record per request, spread over the workers
                assert client.post(f"{path}/records", content=line, headers={"Connection": "close"}).status_code == 200
            assert client.get(f"{path}/acked").json() == {"acked_seq": len(lines)}
        assert server.signal(signal.SIGTERM) == 0
    finally:
        server.kill()

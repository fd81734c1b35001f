"""The uploader against a real HTTP server on 127.0.0.1 that stores records by seq and refuses gaps.

The server (tests/_ingest_server.py) implements the ingest routes of wire API v1 honestly; these
tests check the client's tailing, batching, ack state and retries record by record.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _ingest_server import Store, serve

import tracker_core
from tracker_core.sync import Uploader

KEY = "tk_test_0123456789abcdef"


class Ingest:
    def __init__(self, root: Path, **options: Any) -> None:
        self.root = root
        self.httpd = serve(str(root), 0, KEY, **options)
        self.store: Store = self.httpd.RequestHandlerClass.store  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def records(self, run: Any, project: str = "p") -> list[dict[str, Any]]:
        return self.store.records(str(self.root / "research" / project / run.id))

    def files(self, run: Any, project: str = "p") -> dict[str, Any]:
        path = self.root / "research" / project / run.id / "files.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def ingest(tmp_path: Path) -> Iterator[Ingest]:
    server = Ingest(tmp_path / "server")
    yield server
    server.close()


def local_records(run: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(run.dir, "events.jsonl").read_bytes().splitlines()]


def uploader(url: str, run: Any, **options: Any) -> Uploader:
    def meta() -> dict[str, Any]:
        return json.loads(Path(run.dir, "run.json").read_text())

    return Uploader(url, KEY, run.dir, run.project, run.id, meta, **options)


def finished_run(rows: int = 500, **init: Any) -> Any:
    run = tracker_core.init(project="p", **init)
    for step in range(rows):
        run.log({"loss": 1 / (step + 1), "odd": float("nan") if step % 7 == 0 else step, "big": 2**70})
    run.finish()
    return run


def test_a_finished_run_arrives_whole_in_seq_order_with_its_files(ingest: Ingest) -> None:
    run = finished_run()
    Path(run.dir, "files", "output.log").write_text("epoch 1\n")
    Path(run.dir, "files", "sub").mkdir()
    Path(run.dir, "files", "sub", "notes.txt").write_text("saved\n")
    up = uploader(ingest.url, run)
    up.start()
    up.stop(time.monotonic() + 20)
    assert ingest.records(run) == local_records(run)  # every record, verbatim, in order, once
    assert set(ingest.files(run)) == {"files/output.log", "files/sub/notes.txt"}
    state = json.loads(Path(run.dir, ".sync.json").read_text())
    assert state["acked_seq"] == local_records(run)[-1]["seq"]
    assert state["offset"] == Path(run.dir, "events.jsonl").stat().st_size
    assert state["files_done"] is True


def test_records_travel_in_bounded_gzip_batches(ingest: Ingest) -> None:
    run = finished_run(rows=2000, provenance_exclude=["all"])  # a dirty checkout's diff is one large record
    bodies: list[int] = []
    handler = ingest.httpd.RequestHandlerClass
    original = handler._records  # type: ignore[attr-defined]

    def spy(self: Any, path: str) -> None:
        assert self.headers["Content-Encoding"] == "gzip"
        assert self.headers["Content-Type"] == "application/x-ndjson"
        size = int(self.headers["Content-Length"])
        body = self.rfile.read(size)
        bodies.append(len(gzip.decompress(body)))
        self.rfile = io.BytesIO(body)
        original(self, path)

    handler._records = spy  # type: ignore[attr-defined]
    up = uploader(ingest.url, run, max_batch_bytes=16_384)
    up.start()
    up.stop(time.monotonic() + 30)
    assert ingest.records(run) == local_records(run)
    assert len(bodies) > 10 and max(bodies) <= 16_384


def test_a_live_run_is_streamed_as_it_is_written(ingest: Ingest) -> None:
    run = tracker_core.init(project="p")
    up = uploader(ingest.url, run, poll=0.05)
    up.start()
    run.log({"loss": 1.0})
    deadline = time.monotonic() + 10
    while not any(r.get("type") == "log" for r in ingest.records(run)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert any(r.get("type") == "log" for r in ingest.records(run)), "a logged row reaches the server while running"
    for step in range(100):
        run.log({"loss": float(step)})
    run.finish()
    up.stop(time.monotonic() + 20)
    assert ingest.records(run) == local_records(run)


def test_a_torn_tail_is_never_sent(ingest: Ingest) -> None:
    run = finished_run(rows=20)
    whole = local_records(run)
    with open(Path(run.dir, "events.jsonl"), "ab") as log:
        log.write(b'{"seq": ' + str(whole[-1]["seq"] + 1).encode() + b', "t": 1.0, "type": "log", "da')  # a writer died
    up = uploader(ingest.url, run)
    up.start()
    up.stop(time.monotonic() + 20)
    assert ingest.records(run) == whole


def test_a_damaged_line_is_reported_and_everything_before_it_arrives(
        ingest: Ingest, capsys: pytest.CaptureFixture[str]) -> None:
    run = finished_run(rows=100)
    path = Path(run.dir, "events.jsonl")
    lines = path.read_bytes().splitlines(keepends=True)
    damaged = 50
    lines[damaged - 1] = b"\x00" * (len(lines[damaged - 1]) - 1) + b"\n"  # a disk error inside one record
    path.write_bytes(b"".join(lines))
    up = uploader(ingest.url, run)
    up.start()
    up.stop(time.monotonic() + 20)
    assert [r["seq"] for r in ingest.records(run)] == list(range(1, damaged))
    assert f"the log has no record {damaged} (a damaged line?)" in capsys.readouterr().err


def test_a_gap_resends_from_the_servers_high_water_mark(ingest: Ingest) -> None:
    run = tracker_core.init(project="p")
    up = uploader(ingest.url, run, poll=0.05)
    up.start()
    for step in range(50):
        run.log({"loss": float(step)})
    path = ingest.root / "research" / "p" / run.id / "records.jsonl"
    deadline = time.monotonic() + 10
    while len(ingest.records(run)) < 50 and time.monotonic() < deadline:
        time.sleep(0.02)
    kept = path.read_bytes().splitlines(keepends=True)[:10]
    path.write_bytes(b"".join(kept))  # the server lost records (restored from an older backup)
    for step in range(50, 100):
        run.log({"loss": float(step)})
    run.finish()
    up.stop(time.monotonic() + 20)
    assert ingest.records(run) == local_records(run)  # the client went back to seq 11; nothing twice


def test_throttling_is_retried_after_the_servers_retry_after(tmp_path: Path) -> None:
    server = Ingest(tmp_path / "server", throttle=3)
    try:
        run = finished_run(rows=50)
        up = uploader(server.url, run)
        started = time.monotonic()
        up.start()
        up.stop(time.monotonic() + 20)
        assert server.records(run) == local_records(run)
        assert time.monotonic() - started >= 3 * 0.2  # three answers of Retry-After: 0.2 were waited out
    finally:
        server.close()


def test_a_batch_over_the_servers_limit_is_split(tmp_path: Path) -> None:
    server = Ingest(tmp_path / "server", limit=12_000)
    try:
        run = finished_run(rows=3000, provenance_exclude=["all"])  # a dirty checkout's diff is one large record
        up = uploader(server.url, run)
        up.start()
        up.stop(time.monotonic() + 30)
        assert server.records(run) == local_records(run)
    finally:
        server.close()


def test_a_record_larger_than_the_server_accepts_is_reported_not_retried(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = Ingest(tmp_path / "server", limit=600)
    try:
        run = tracker_core.init(project="p", provenance_exclude=["all"])
        run.log({"loss": 1.0})
        run.config["text"] = os.urandom(2000).hex()  # incompressible: over the limit even with gzip
        run.log({"loss": 2.0})
        run.finish()
        up = uploader(server.url, run)
        started = time.monotonic()
        up.start()
        up.stop(time.monotonic() + 20)
        assert time.monotonic() - started < 10
        big = next(r["seq"] for r in local_records(run) if r.get("type") == "config" and "text" in r["data"])
        assert [r["seq"] for r in server.records(run)] == list(range(1, big))  # everything before it
        assert f"record {big} alone is larger than the server accepts (600 bytes)" in capsys.readouterr().err
    finally:
        server.close()


def test_a_restarted_upload_sends_nothing_twice(ingest: Ingest) -> None:
    run = finished_run(rows=300)
    first = uploader(ingest.url, run)
    first.start()
    first.stop(time.monotonic() + 20)
    batches = ingest.store.batches
    again = uploader(ingest.url, run)
    again.start()
    again.stop(time.monotonic() + 20)
    assert ingest.store.batches == batches  # the saved offset says everything is there
    Path(run.dir, ".sync.json").unlink()  # a lost state file: the server's mark still prevents duplicates
    third = uploader(ingest.url, run)
    third.start()
    third.stop(time.monotonic() + 20)
    assert ingest.records(run) == local_records(run)


def test_media_travel_once_per_team_by_digest(ingest: Ingest) -> None:
    np = pytest.importorskip("numpy")
    pixels = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    runs = []
    for _ in range(2):
        run = tracker_core.init(project="p")
        run.log({"sample": tracker_core.Image(pixels)})
        run.finish()
        runs.append(run)
    for run in runs:
        up = uploader(ingest.url, run)
        up.start()
        up.stop(time.monotonic() + 20)
    puts = (ingest.root / "_blob_puts.log").read_text().split()
    image_file = next(r for r in local_records(runs[0]) if r.get("type") == "log")["data"]["sample"]["$m"]["file"]
    digest = Path(image_file).stem
    assert puts.count(digest) == 1  # asked which were missing: the second run sent none
    for run in runs:
        assert ingest.files(run)[image_file]["sha256"] == digest
        assert ingest.records(run) == local_records(run)


def test_every_file_a_medium_names_travels_lists_layers_and_table_cells(ingest: Ingest) -> None:
    np = pytest.importorskip("numpy")
    pixels = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    mask = {"pred": {"mask_data": np.eye(4, dtype=np.uint8), "class_labels": {1: "cat"}}}
    boxes = {"gt": {"box_data": [{"position": {"minX": 0.1, "maxX": 0.6, "minY": 0.2, "maxY": 0.7}, "class_id": 1}],
                    "class_labels": {1: "cat"}}}
    run = tracker_core.init(project="p")
    run.log({"grid": [tracker_core.Image(pixels), tracker_core.Image(pixels + 1, caption="b")],
             "seg": tracker_core.Image(pixels + 2, masks=mask, boxes=boxes),
             "table": tracker_core.Table(columns=["img"], data=[[tracker_core.Image(pixels + 3)]])})
    run.finish()
    up = uploader(ingest.url, run)
    up.start()
    up.stop(time.monotonic() + 20)
    on_disk = {str(path.relative_to(run.dir)): hashlib.sha256(path.read_bytes()).hexdigest()
               for path in Path(run.dir, "media").iterdir()}
    assert len(on_disk) == 7  # two list items; an image, its mask and its boxes; a table and its cell
    sent = ingest.files(run)
    assert {path: sent[path]["sha256"] for path in on_disk if path in sent} == on_disk


def test_with_the_server_down_stop_returns_by_its_deadline_and_says_what_is_left(
        capsys: pytest.CaptureFixture[str]) -> None:
    run = finished_run(rows=30)
    up = uploader("http://127.0.0.1:9", run, sync_timeout=1.5)  # nothing listens on port 9
    up.start()
    started = time.monotonic()
    up.stop(time.monotonic() + 60)  # the uploader's own sync_timeout decides
    took = time.monotonic() - started
    assert took < 3.0
    err = capsys.readouterr().err
    total = local_records(run)[-1]["seq"]
    assert f"{total} records of run" in err and "tracker sync" in err
    assert len([line for line in err.splitlines() if "tracker sync" in line]) == 1


def test_a_refused_key_is_reported_once_and_nothing_raises(ingest: Ingest, capsys: pytest.CaptureFixture[str]) -> None:
    run = finished_run(rows=5)
    up = Uploader(ingest.url, "wrong-key-0000000", run.dir, "p", run.id, lambda: {}, sync_timeout=5)
    up.start()
    up.stop(time.monotonic() + 5)
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "wrong-key" not in err
    assert ingest.records(run) == []


def test_a_forked_uploader_writes_nothing(ingest: Ingest) -> None:
    run = finished_run(rows=5)
    up = uploader(ingest.url, run)
    up.forked()
    up.start()
    up.stop(time.monotonic() + 2)
    assert not Path(run.dir, ".sync.json").exists()
    assert not ingest.root.exists()  # nothing was sent


def test_init_streams_when_a_server_is_configured_and_not_when_offline(
        ingest: Ingest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_SERVER", ingest.url)
    monkeypatch.setenv("TRACKER_API_KEY", KEY)
    online = finished_run(rows=20)
    assert online.settings.mode == "online"
    assert ingest.records(online) == local_records(online)  # finish() waited for the upload
    offline = finished_run(rows=20, mode="offline")
    assert ingest.records(offline) == []
    assert not Path(offline.dir, ".sync.json").exists()


def test_logged_artifacts_travel_by_digest_and_are_stored_once_per_team(ingest: Ingest, tmp_path: Path) -> None:
    weights = tmp_path / "model.bin"
    weights.write_bytes(os.urandom(300_000))  # a checkpoint that two people log
    runs = []
    for name in ("ckpt-alice", "ckpt-bob"):
        run = tracker_core.init(project="p")
        artifact = tracker_core.Artifact(name, type="model")
        artifact.add_file(weights)
        run.log_artifact(artifact)
        run.finish()
        runs.append((run, name))
    for run, _ in runs:
        up = uploader(ingest.url, run)
        up.start()
        up.stop(time.monotonic() + 20)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert (ingest.root / "_blob_puts.log").read_text().split().count(digest) == 1
    for run, name in runs:
        files = ingest.files(run)
        assert files[f"artifacts/{name}/v0/model.bin"] == {"sha256": digest, "size": 300_000}
        assert f"artifacts/{name}/v0/manifest.json" in files
        assert ingest.records(run) == local_records(run)


def test_a_backlog_is_read_ahead_during_each_post_and_arrives_exactly_once(
        ingest: Ingest, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker_core.sync import _upload

    run = finished_run(rows=3000)
    readers: list[str] = []
    prepare = _upload._prepare

    def spy(*args: Any) -> Any:
        readers.append(threading.current_thread().name)
        return prepare(*args)

    monkeypatch.setattr(_upload, "_prepare", spy)
    up = uploader(ingest.url, run, max_batch_bytes=16_384)
    up.start()
    up.stop(time.monotonic() + 30)
    assert ingest.records(run) == local_records(run)
    ahead = readers.count("tracker-upload-read-ahead")
    assert ingest.store.batches > 10 and ahead >= ingest.store.batches - 2  # all but the first and the tail's


def test_a_throttled_or_lost_batch_drops_the_batch_read_ahead(ingest: Ingest) -> None:
    run = finished_run(rows=3000)
    handler = ingest.httpd.RequestHandlerClass
    original = handler._records  # type: ignore[attr-defined]
    calls = 0

    def spy(self: Any, path: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:
            ingest.store.throttle = 1  # 429 with Retry-After while the next batch is read ahead
        if calls == 8:  # the server lost records (restored from a backup) while the next batch is read ahead
            stored = Path(path, "records.jsonl")
            stored.write_bytes(b"".join(stored.read_bytes().splitlines(keepends=True)[:10]))
        original(self, path)

    handler._records = spy  # type: ignore[attr-defined]
    up = uploader(ingest.url, run, max_batch_bytes=16_384)
    up.start()
    up.stop(time.monotonic() + 30)
    assert ingest.records(run) == local_records(run)  # in order, each record once
    assert calls > 12


def test_a_run_that_logs_all_the_time_is_sent_a_batch_a_poll(ingest: Ingest) -> None:
    run = tracker_core.init(project="p")
    up = uploader(ingest.url, run, poll=0.2)
    up.start()
    started, step = time.monotonic(), 0
    while time.monotonic() - started < 2.0:  # a row every half millisecond for 2 s
        run.log({"loss": float(step)})
        step += 1
        time.sleep(0.0005)
    while_logging = ingest.store.batches
    run.finish()
    up.stop(time.monotonic() + 20)
    assert ingest.records(run) == local_records(run)
    assert step > 1000 and 2 <= while_logging <= 2.0 / 0.2 + 4  # not a request per round trip (hundreds)


def test_a_backlog_goes_batch_after_batch_without_waiting_for_the_poll(ingest: Ingest) -> None:
    run = finished_run(rows=3000)
    up = uploader(ingest.url, run, poll=30.0, max_batch_bytes=16_384)
    started = time.monotonic()
    up.start()
    while len(ingest.records(run)) < len(local_records(run)) and time.monotonic() - started < 40:
        time.sleep(0.02)
    took = time.monotonic() - started
    up.stop(time.monotonic() + 20)
    assert ingest.records(run) == local_records(run)
    assert ingest.store.batches > 10 and took < 20.0  # one poll between two batches would take 30 s

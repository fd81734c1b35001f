"""`tracker import wandb`: real W&B offline runs (made by the wandb package in subprocesses) read from
their .wandb transaction logs and compared point by point with what the scripts logged."""

from __future__ import annotations

import math
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest

pytest.importorskip("wandb")

from _wandb_runs import CRASHED_RUN, FAILED_RUN, LONG_RUN, MAIN_RUN, RESUMED_RUN, expected, make_runs, wandb_files

from tracker_core.api import Api
from tracker_core.migrate import Fidelity, WandbMissing, import_wandb, read_wandb_records
from tracker_core.migrate._wandb_log import BLOCK_SIZE


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of real W&B runs: a full one, a raising one, a SIGKILLed one, a long one (many blocks)."""
    folder = tmp_path_factory.mktemp("wandb_runs")
    make_runs(folder, MAIN_RUN, FAILED_RUN, CRASHED_RUN, LONG_RUN)
    return folder


@pytest.fixture
def runs(made: Path, tmp_path: Path) -> Path:
    """A private copy of the W&B folder, free to damage."""
    copy = tmp_path / "src"
    shutil.copytree(made, copy, symlinks=True)
    return copy


def _records(path: Path) -> list[Any]:
    from wandb.proto import wandb_internal_pb2 as pb

    fidelity = Fidelity("W&B", "test")
    out = []
    for payload in read_wandb_records(str(path), fidelity):
        record = pb.Record()
        record.ParseFromString(payload)
        out.append(record)
    assert fidelity.errors == []
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracker_core.cli", "--dir", str(root), *args],
                          capture_output=True, text=True, timeout=300, check=False)


def test_the_reader_reads_every_record_wandb_writes_across_blocks(made: Path) -> None:
    """A 3,000-row run with a 100 kB config value: the file spans many 32 KiB blocks and the value spans
    chunks (first, middle, last); every CRC checks and every row is there, in order."""
    (path,) = wandb_files(made / "wandb", "long0001")
    assert path.stat().st_size > 10 * BLOCK_SIZE
    records = _records(path)
    kinds = [r.WhichOneof("record_type") for r in records]
    assert kinds[0] == "header" and kinds[1] == "run" and kinds[-1] in ("exit", "final", "footer")
    run = records[1].run
    blob = {item.key: item.value_json for item in run.config.update}["blob"]
    assert blob == '"' + "x" * 100000 + '"'
    steps = [orjson.loads(item.value_json) for r in records if r.WhichOneof("record_type") == "history"
             for item in r.history.item if item.nested_key == ["_step"] or item.key == "_step"]
    assert steps == list(range(3000))


def test_a_full_run_is_imported_point_by_point(made: Path, tmp_path: Path) -> None:
    root = tmp_path / "store"
    result = _cli(root, "import", "wandb", str(made / "wandb"), "--json")
    report = orjson.loads(result.stdout)
    api = Api(str(root))
    run = api.run("mig/main0001")
    logged = expected(made, "main0001")

    # identity, state, config (nested; _wandb dropped)
    assert (run.name, run.tags, run.notes, run.group, run.job_type) == (
        "main-run", ["phase-1", "wandb"], "imported notes", "sweep-a", "train")
    assert (run.state, run.exit_code) == ("finished", 0)
    assert run.config == logged["config"] == {"lr": 3e-4, "seed": 7, "optim": {
        "name": "adam", "betas": [0.9, 0.999], "sched": {"kind": "cosine", "warmup": 100}}}

    # every row: its step, every scalar value (NaN and ±Inf included), and a _timestamp inside the
    # window of the log() call that made it, equal to the one W&B wrote
    history = {row["_step"]: row for row in run.history()}
    (path,) = wandb_files(made / "wandb", "main0001")
    wandb_times = {}
    for record in _records(path):
        if record.WhichOneof("record_type") == "run":
            started = record.run.start_time.seconds + record.run.start_time.nanos / 1e9
            assert run.created_at is not None and abs(run.created_at.timestamp() - started) < 1e-6
        if record.WhichOneof("record_type") == "history":
            items = {item.nested_key[0]: item.value_json for item in record.history.item if len(item.nested_key) == 1}
            wandb_times[int(items["_step"])] = float(items["_timestamp"])
    for row in logged["rows"]:  # type: ignore[attr-defined]
        got = history[row["step"]]
        for key, value in row["data"].items():
            assert _same(got[key], value), (row["step"], key, got[key], value)
        assert got["_timestamp"] == wandb_times[row["step"]]
        assert row["before"] - 0.01 <= got["_timestamp"] <= row["after"] + 0.01
    assert sorted(history) == sorted({r["step"] for r in logged["rows"]} | {410, 411})  # type: ignore[attr-defined]
    assert all(type(h["_runtime"]) is float for h in history.values())

    # define_metric: the custom x-axis and the summary option came along
    by_epoch = run.history(keys=["val/acc"], x_axis="epoch")
    assert [(r["epoch"], r["val/acc"]) for r in by_epoch] == [(0, 0.5), (1, 0.6), (2, 0.7)]
    assert run.summary_metrics["train/loss"] == {"min": 1.0 / 401}
    assert run.summary["set_mid_run"] == 17
    assert run.summary["best_acc"] == 0.93 and run.summary["note"] == {"text": "done", "n": 3}

    # media: the same bytes W&B stored, as our media kinds
    files = made / "wandb" / path.parent.name / "files"
    row = history[410]
    image = row["sample"]
    assert image.kind == "image" and image.fields["caption"] == "first"
    assert image.read_bytes() == next((files / "media" / "images").glob("sample_*.png")).read_bytes()
    assert row["preds"].columns == ["a", "b", "c"]
    assert row["preds"].rows() == [[1, "x", 0.5], [2, "y", None], [3, "z", 1.5]]
    assert (row["weights_hist"].fields["values"], row["weights_hist"].fields["bins"]) == ([3, 0, 5],
                                                                                       [0.0, 1.0, 2.0, 4.0])
    assert row["tone"].read_bytes() == (made / "tone.wav").read_bytes()
    assert row["clip"].read_bytes() == (made / "clip.gif").read_bytes()
    chart = orjson.loads(history[411]["squares"].read_bytes())
    assert chart["spec"]["mark"] == "line" and chart["spec"]["title"] == "Squares"
    assert chart["data"] == [{"x": 1, "y": 1}, {"x": 2, "y": 4}, {"x": 3, "y": 9}]

    # console, system metrics, artifact
    output = (Path(run.dir) / "files" / "output.log").read_text()
    assert "console line one" in output and "console line two" in output
    assert run.system_metrics() and all("_timestamp" in s for s in run.system_metrics())
    (artifact,) = run.logged_artifacts()
    assert (artifact.name, artifact.type) == ("weights", "model") and "best" in artifact.aliases
    assert Path(artifact.download(str(tmp_path / "dl")), "weights.bin").read_bytes() == bytes(range(256)) * 4

    # the report counts what moved
    moved = report["moved"]
    assert moved["runs"] == 4 and moved["media"] >= 6 and moved["artifacts"] == 1
    # only the killed run's tail can be torn (wandb-core may die mid-block); a torn tail is reported
    assert all("crash001" in error and "torn" in error for error in report["errors"])
    assert result.returncode == (3 if report["errors"] else 0)


def test_failed_and_killed_runs_keep_their_true_end(made: Path, tmp_path: Path) -> None:
    root = tmp_path / "store"
    fidelity = import_wandb(str(made / "wandb"), str(root), progress=lambda _: None)
    api = Api(str(root))
    failed = api.run("mig/fail0001")
    assert (failed.state, failed.exit_code) == ("failed", 1)
    logged = expected(made, "fail0001")
    assert [(r["_step"], r["x"]) for r in failed.history()] == [(r["step"], r["data"]["x"])
                                                              for r in logged["rows"]]  # type: ignore[attr-defined]
    crashed = api.run("mig/crash001")
    assert crashed.state == "crashed" and crashed.exit_code is None
    (path,) = wandb_files(made / "wandb", "crash001")
    written = sum(1 for payload in read_wandb_records(str(path), Fidelity("a", "b")) if b"_step" in payload
                  and b"_timestamp" in payload) // 2  # each row: a history and a summary record
    rows = crashed.history()
    assert len(rows) >= written > 100 and [r["y"] for r in rows] == list(range(len(rows)))
    assert ("final state", "the W&B run has no exit record (it crashed or is still running): imported as "
            "crashed") in fidelity.lost


def test_importing_again_changes_nothing_and_an_interrupted_import_continues(runs: Path, tmp_path: Path) -> None:
    root = tmp_path / "store"
    first = import_wandb(str(runs / "wandb"), str(root), progress=lambda _: None)
    logs = {p: p.read_bytes() for p in root.glob("mig/*/events.jsonl")}
    assert len(logs) == 4
    again = import_wandb(str(runs / "wandb"), str(root), progress=lambda _: None)
    assert again.moved["runs"] == 0 and {p: p.read_bytes() for p in root.glob("mig/*/events.jsonl")} == logs
    assert first.moved["runs"] == 4

    # an import killed while building a run leaves it in the staging folder, never half in the store
    shutil.rmtree(root / "mig" / "long0001")
    staging = root / ".imports" / "wandb" / "long0001"
    staging.mkdir(parents=True)
    (staging / "events.jsonl").write_bytes(b'{"seq":1,"t":1.0,"type":"run"}\n{"seq":2,')
    assert "long0001" not in [r.id for r in Api(str(root)).runs("mig")]
    resumed = import_wandb(str(runs / "wandb"), str(root), progress=lambda _: None)
    assert resumed.moved["runs"] == 1 and not staging.exists()
    assert {p: p.read_bytes() for p in root.glob("mig/*/events.jsonl")} == logs
    assert sorted(r.id for r in Api(str(root)).runs("mig")) == ["crash001", "fail0001", "long0001", "main0001"]
    assert Api(str(root)).projects() == ["mig"]

    # a W&B run that changed since (here: more records) is rebuilt in place, never duplicated
    (path,) = wandb_files(runs / "wandb", "fail0001")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    updated = import_wandb(str(runs / "wandb"), str(root), progress=lambda _: None)
    assert updated.moved["runs"] == 1 and len(Api(str(root)).runs("mig")) == 4


def _payload_byte_in_block(data: bytes, block: int) -> int:
    """The offset of a byte in the middle of a whole record's chunk inside ``block``: not a chunk header,
    whose damage reads as another problem than a CRC mismatch, nor a piece of the long run record."""
    pos = 7  # the file header
    while pos < len(data):
        left = BLOCK_SIZE - pos % BLOCK_SIZE
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack_from("<IHB", data, pos)
        start = pos + 7
        if start // BLOCK_SIZE == block and kind == 1 and length > 16:  # 1: a full chunk
            return start + length // 2
        pos = start + length
    raise AssertionError(f"no chunk payload in block {block}")


def test_reads_of_one_block_give_the_same_records_and_errors(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file is read 16 MiB at a time: with reads of one block (the 100 kB config record spans four of them,
    a corrupt chunk and a torn tail fall in later ones) the records and the errors are the same."""
    from tracker_core.migrate import _wandb_log

    (path,) = wandb_files(runs / "wandb", "long0001")
    data = bytearray(path.read_bytes())
    data[_payload_byte_in_block(bytes(data), 4)] ^= 0xFF
    path.write_bytes(bytes(data[:-50]))

    def read() -> tuple[list[bytes], list[str]]:
        fidelity = Fidelity("W&B", "test")
        return list(read_wandb_records(str(path), fidelity)), fidelity.errors

    whole = read()
    monkeypatch.setattr(_wandb_log, "_READ", BLOCK_SIZE)
    by_block = read()
    assert by_block == whole and len(whole[0]) > 8000
    crc, torn = whole[1]
    (offset,) = re.findall(r"at byte (\d+): a CRC-32 mismatch", crc)
    assert 4 * BLOCK_SIZE <= int(offset) < 5 * BLOCK_SIZE and "torn" in torn


def test_a_corrupt_and_a_truncated_file_are_named_and_the_rest_imported(runs: Path, tmp_path: Path) -> None:
    (long_file,) = wandb_files(runs / "wandb", "long0001")
    data = bytearray(long_file.read_bytes())
    block = len(data) // BLOCK_SIZE // 2  # among the history rows
    data[_payload_byte_in_block(bytes(data), block)] ^= 0xFF  # a flipped byte inside that block
    long_file.write_bytes(bytes(data))
    (fail_file,) = wandb_files(runs / "wandb", "fail0001")
    fail_file.write_bytes(fail_file.read_bytes()[:-50])  # the end cut off, as by a full disk
    root = tmp_path / "store"
    result = _cli(root, "import", "wandb", str(runs / "wandb"))
    assert result.returncode == 3
    (offset,) = re.findall(rf"{re.escape(str(long_file))} at byte (\d+): a CRC-32 mismatch", result.stdout)
    assert block * BLOCK_SIZE <= int(offset) < (block + 1) * BLOCK_SIZE
    assert str(fail_file) in result.stdout and "torn" in result.stdout
    api = Api(str(root))
    long_rows = [row["_step"] for row in api.run("mig/long0001").history()]
    assert 2800 < len(long_rows) < 3000  # only the rows of the damaged block are missing
    assert long_rows == sorted(long_rows) and long_rows[0] == 0 and long_rows[-1] == 2999
    assert api.run("mig/fail0001").state == "crashed"  # its exit record was cut off
    assert api.run("mig/main0001").state == "finished"


def test_a_resumed_offline_run_is_one_run_with_its_alert(tmp_path: Path) -> None:
    """W&B writes a resumed offline run into a second folder with the same id: both are read, in order."""
    wandb_dir = make_runs(tmp_path / "src", RESUMED_RUN)
    assert len(wandb_files(wandb_dir, "resum001")) == 2
    fidelity = import_wandb(str(wandb_dir), str(tmp_path / "store"), progress=lambda _: None)
    assert fidelity.moved["runs"] == 1 and fidelity.errors == []
    run = Api(str(tmp_path / "store")).run("mig/resum001")
    assert [(row["_step"], row["a"]) for row in run.history()] == [(s, s * 10) for s in range(6)]
    assert run.tags == ["second-part"] and run.state == "finished"
    assert [(alert.title, alert.text) for alert in run.alerts()] == [("careful", "loss is high")]


# A synced run's files/config.yaml as wandb-core writes it (runconfig.Serialize of the config with
# AddTelemetryAndMetrics): its define_metric calls are `_wandb.m`, MetricRecords by field number, the step
# metric as the 1-based index of its entry. Offline runs never write this file; `wandb.init(config=<that file>)`
# carries it into a new run's run record, with no MetricRecord in the log.
SYNCED_CONFIG = """wandb_version: 1
_wandb:
  value:
    cli_version: 0.31.0
    m:
    - {"1": epoch, "6": [3]}
    - {"1": val/acc, "5": 1, "6": [1, 3]}
    - {"1": train/loss, "5": 1, "6": [1, 3], "7": [1], "8": 1}
    - {"2": "hidden/*", "6": [2, 3]}
lr:
  value: 0.1
"""

CONFIG_FILE_RUN = r'''
import os, sys
import wandb
run = wandb.init(project="mig", id="cfgm0001", config=os.path.join(sys.argv[1], "synced-config.yaml"))
for epoch in range(3):
    run.log({"epoch": epoch, "val/acc": epoch / 10, "train/loss": 1 / (epoch + 1)}, step=epoch * 10)
run.finish()
'''


def test_step_metrics_from_a_synced_runs_config_file(tmp_path: Path) -> None:
    """The `_wandb.m` shape of metric definitions (a synced run's config), read when the log has no metric record."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "synced-config.yaml").write_text(SYNCED_CONFIG)
    wandb_dir = make_runs(tmp_path / "src", CONFIG_FILE_RUN)
    records = _records(wandb_files(wandb_dir, "cfgm0001")[0])
    assert not any(record.WhichOneof("record_type") == "metric" for record in records)
    (run_record,) = [record.run for record in records if record.WhichOneof("record_type") == "run"]
    assert [orjson.loads(item.value_json)["m"] for item in run_record.config.update if item.key == "_wandb"]
    fidelity = import_wandb(str(wandb_dir), str(tmp_path / "store"), progress=lambda _: None)
    assert fidelity.moved["runs"] == 1 and fidelity.errors == []
    run = Api(str(tmp_path / "store")).run("mig/cfgm0001")
    assert {d.name: (d.step_metric, d.summary, d.goal, d.hidden, d.step_sync) for d in run.metric_definitions()} == {
        "epoch": (None, (), None, False, False), "val/acc": ("epoch", (), None, False, True),
        "train/loss": ("epoch", ("min",), "minimize", False, True), "hidden/*": (None, (), None, True, False)}
    by_epoch = run.history(keys=["val/acc"], x_axis="epoch")
    assert [(r["epoch"], r["val/acc"]) for r in by_epoch] == [(0, 0.0), (1, 0.1), (2, 0.2)]
    assert run.summary_metrics["train/loss"] == {"min": 1 / 3}
    assert run.config == {"lr": 0.1}


def test_an_intact_chunk_that_is_not_a_record_is_named(runs: Path, tmp_path: Path) -> None:
    """A chunk whose CRC is right but whose bytes are no W&B Record (written here after wandb's last block)."""
    (path,) = wandb_files(runs / "wandb", "fail0001")
    data = path.read_bytes()
    data += bytes(BLOCK_SIZE - len(data) % BLOCK_SIZE)  # the rest of the block zeroed, as readers skip it
    garbage = b"\xff\xff\xff\xff not protobuf"
    data += struct.pack("<IHB", zlib.crc32(bytes([1]) + garbage), len(garbage), 1) + garbage
    path.write_bytes(data)
    fidelity = import_wandb(str(runs / "wandb"), str(tmp_path / "store"), progress=lambda _: None)
    assert [e for e in fidelity.errors if "not a W&B Record" in e] == [
        e for e in fidelity.errors if e.startswith(f"{path}: a record that is not a W&B Record")] != []
    failed = Api(str(tmp_path / "store")).run("mig/fail0001")
    assert (failed.state, len(failed.history())) == ("failed", 5)


def test_not_a_wandb_file_and_nothing_to_import(tmp_path: Path) -> None:
    folder = tmp_path / "wandb" / "offline-run-x-abc"
    folder.mkdir(parents=True)
    (folder / "run-abc.wandb").write_bytes(b"PK\x03\x04 not a log")
    fidelity = import_wandb(str(tmp_path / "wandb"), str(tmp_path / "store"), progress=lambda _: None)
    assert "not a W&B transaction log" in fidelity.errors[0] and str(folder / "run-abc.wandb") in fidelity.errors[0]
    result = _cli(tmp_path / "store", "import", "wandb", str(tmp_path / "empty"))
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_without_the_wandb_package_the_error_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setitem(sys.modules, "wandb.proto", None)  # what `import wandb.proto` meets when wandb is absent
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(WandbMissing, match=r'pip install "tracker\[wandb\]"'):
        import_wandb(str(tmp_path), str(tmp_path / "store"))


def test_imported_runs_go_to_the_team_server_with_tracker_sync(made: Path, tmp_path: Path) -> None:
    """The imported log is an ordinary local log: `tracker sync` uploads it, and the server's history
    is the W&B run's, step for step and time for time."""
    from _team import TeamServer

    root = tmp_path / "store"
    import_wandb(str(made / "wandb"), str(root), progress=lambda _: None)
    server = TeamServer(tmp_path / "server").start()
    try:
        env = {**os.environ, "TRACKER_SERVER": server.url, "TRACKER_API_KEY": server.key, "TRACKER_ENTITY": "research"}
        done = subprocess.run([sys.executable, "-m", "tracker_core.cli", "sync", str(root)], env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr + done.stdout
        local = Api(str(root)).run("mig/main0001")
        remote = Api(server=server.url, api_key=server.key).run("research/mig/main0001")
        assert remote.state == "finished" and remote.config == local.config and remote.tags == local.tags
        pairs = [(r["_step"], r.get("train/loss")) for r in local.history()]
        assert [(r["_step"], r.get("train/loss")) for r in remote.history()] == pairs
        # the server's history has no times; its records keep W&B's, as the local log has them
        logged = [(r["step"], r["t"]) for r in server.records("main0001", "mig") if r["type"] == "log"]
        assert logged == [(r["_step"], r["_timestamp"]) for r in local.history()]
    finally:
        server.kill()


def _store_files(root: Path) -> dict[str, bytes]:
    """Every file of a store, by path; an artifact registry without the times the import made them."""
    files = {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}
    return {name: re.sub(rb'"created_at": [0-9.e+]+', b"", data) if name.endswith("registry.json") else data
            for name, data in files.items()}


@pytest.mark.parametrize(("share", "child_fails"), [(0.2, False), (0.5, False), (0.83, False), (0.5, True)])
def test_a_file_read_on_two_cores_is_imported_byte_for_byte_as_on_one(
        runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, share: float, child_fails: bool) -> None:
    """Each file cut where a record starts near ``share`` of it and its second half read by a forked child (as
    files of 64 MiB and more are): the same store, byte for byte, and the same report, with a corrupt chunk in
    each half and a torn tail; a child that fails leaves its half to the parent, with the same result."""
    from tracker_core.migrate import _wandb_halves

    (long_file,) = wandb_files(runs / "wandb", "long0001")
    data = bytearray(long_file.read_bytes())
    blocks = len(data) // BLOCK_SIZE
    for block in (blocks // 4, blocks * 3 // 4):
        data[_payload_byte_in_block(bytes(data), block)] ^= 0xFF
    long_file.write_bytes(bytes(data[:-50]))
    one = import_wandb(str(runs / "wandb"), str(tmp_path / "one"), progress=lambda _: None)

    forked: list[int] = []
    fork = os.fork

    def counted_fork() -> int:
        pid = fork()
        if pid:
            forked.append(pid)
        return pid

    def failing_feed(*_: Any, **__: Any) -> None:
        raise OSError("the child fails")

    monkeypatch.setattr(_wandb_halves, "busy_threads", lambda: 0)  # earlier tests leave threads in this process
    monkeypatch.setattr(os, "fork", counted_fork)
    monkeypatch.setattr(_wandb_halves, "SPLIT_BYTES", 0)
    monkeypatch.setattr(_wandb_halves, "_SHARE", share)
    if child_fails:
        monkeypatch.setattr(_wandb_halves._Half, "feed", failing_feed)
    two = import_wandb(str(runs / "wandb"), str(tmp_path / "two"), progress=lambda _: None)
    assert len(forked) == 4  # one child for each of the four files
    assert len([e for e in one.errors if str(long_file) in e]) == 3  # two CRC mismatches, the torn tail
    assert (two.moved, two.lost, two.errors) == (one.moved, one.lost, one.errors)
    assert _store_files(tmp_path / "two") == _store_files(tmp_path / "one")


def test_a_finished_runs_idle_worker_threads_do_not_keep_a_file_on_one_core(tmp_path: Path) -> None:
    """In a fresh process, after a run has finished, only idle worker threads remain: the two-core read may fork."""
    script = ("import tracker_core, threading\n"
              "from tracker_core import _workers\n"
              "from tracker_core.migrate._wandb_halves import busy_threads\n"
              f"run = tracker_core.init(project='p', dir={str(tmp_path)!r}, mode='offline')\n"
              "run.log({'x': 1.0}); run.finish()\n"
              "print(threading.active_count() - 1, _workers.idle_count(), busy_threads())\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    others, idle, busy = map(int, out.stdout.split()[-3:])
    assert others > 0 and idle == others and busy == 0

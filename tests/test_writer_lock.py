"""One writer per run at a time, under a lock; seq continues with no gaps across hand-over and resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _procs import Child, events, only_run

import tracker_core

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

PROJECT = "lock"

# argv: project, run id. Logs steps 0-4, then waits for a line on stdin before each of: detach, exit.
HOLDER = """
    import sys
    import tracker_core

    run = tracker_core.init(project=sys.argv[1], id=sys.argv[2])
    for step in range(5):
        run.log({"x": step}, step=step)
    print("ready", flush=True)
    sys.stdin.readline()
    run.detach()
    print("detached", flush=True)
    sys.stdin.readline()
"""


def test_live_writer_refuses_a_second_writer_naming_its_pid(tmp_path: Path) -> None:
    with Child(tmp_path, HOLDER, PROJECT, "held") as child:
        child.expect("ready")
        with pytest.raises(tracker_core.RunLockedError) as refused:
            tracker_core.init(project=PROJECT, id="held", resume="must")
        assert f"pid {child.pid} " in str(refused.value)
        assert tracker_core.run is None
        assert only_run(PROJECT).status == "running"
        assert [row["x"] for row in only_run(PROJECT).history()] == [0, 1, 2, 3, 4]


def test_detach_hands_the_run_over_and_seq_continues_without_gaps(tmp_path: Path) -> None:
    with Child(tmp_path, HOLDER, PROJECT, "handover") as child:
        child.expect("ready")
        child.send("detach")
        child.expect("detached")
        assert child.proc.poll() is None  # the old owner lives on
        assert only_run(PROJECT).status == "running"  # handed over, not ended
        run = tracker_core.init(project=PROJECT, id="handover", resume="must")
        assert run.step == 5
        for step in range(5, 8):
            run.log({"x": step}, step=step)
        run.finish()
        child.send("exit")
        assert child.wait() == 0, child.stderr
        assert "TrackerWarning" not in child.stderr

    stored = tracker_core.Api().run(f"{PROJECT}/handover")
    records = events(stored)
    assert stored.status == "finished"
    assert stored.seq_gaps == 0
    assert [record["seq"] for record in records] == list(range(1, len(records) + 1))
    assert stored.last_seq == len(records)
    assert [row["x"] for row in stored.history()] == list(range(8))
    assert [record["pid"] for record in records if record["type"] == "detach"] == [child.pid]
    assert records[-1]["type"] == "status"  # the old owner's exit wrote nothing after the new owner's end
    assert records[-1]["status"] == "finished"


def test_resuming_a_killed_run_repairs_its_torn_tail(tmp_path: Path, store: Path) -> None:
    with Child(tmp_path, HOLDER, PROJECT, "torn") as child:
        child.expect("ready")
        child.kill()
    log_path = store / PROJECT / "torn" / "events.jsonl"
    torn = b'{"seq":99,"t":1.0,"type":"log","step":5,"data":{"x":'
    with open(log_path, "ab") as handle:  # half a record, as a write cut short by power loss leaves it
        handle.write(torn)
    crashed = only_run(PROJECT)
    assert crashed.status == "crashed"
    assert crashed.torn_tail

    run = tracker_core.init(project=PROJECT, id="torn", resume="must")
    run.log({"x": 5}, step=5)
    run.finish()

    data = log_path.read_bytes()
    assert torn not in data
    records = [json.loads(line) for line in data.splitlines()]  # every line is a whole record
    repairs = [record["repaired_tail_bytes"] for record in records
               if record["type"] == "run" and "repaired_tail_bytes" in record]
    assert repairs == [len(torn)]
    stored = only_run(PROJECT)
    assert stored.status == "finished"
    assert stored.seq_gaps == 0
    assert stored.bad_lines == 0
    assert not stored.torn_tail
    assert [row["x"] for row in stored.history()] == list(range(6))


def test_resume_never_refuses_an_existing_run_and_leaves_it_untouched(store: Path) -> None:
    first = tracker_core.init(project=PROJECT, id="taken")
    first.log({"x": 0})
    first.finish()
    log_path = store / PROJECT / "taken" / "events.jsonl"
    before = log_path.read_bytes()
    with pytest.raises(tracker_core.RunExistsError, match="taken"):
        tracker_core.init(project=PROJECT, id="taken", resume="never")
    with pytest.raises(tracker_core.RunExistsError):
        tracker_core.init(project=PROJECT, id="taken")  # no resume given: the same refusal
    assert log_path.read_bytes() == before
    assert only_run(PROJECT).status == "finished"


def test_resume_must_refuses_a_missing_run_and_creates_nothing(store: Path) -> None:
    with pytest.raises(tracker_core.RunNotFoundError, match="missing"):
        tracker_core.init(project=PROJECT, id="missing", resume="must")
    assert not (store / PROJECT / "missing").exists()
    assert tracker_core.run is None

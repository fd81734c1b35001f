"""A full disk never stops training (DESIGN principle 1): one warning, a count, an intact log.

The "disk" is a real kernel limit: RLIMIT_FSIZE caps every file the child writes, and with
SIGXFSZ ignored a write past it fails with EFBIG (a write across it is cut short first).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _procs import only_run, run_script

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

PROJECT = "full"
LIMIT = 64 * 1024
ROWS = 5000

# argv: project, "strict" or "lenient"
CHILD = f"""
    import resource, signal, sys

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, ({LIMIT}, {LIMIT}))
    import tracker_core

    run = tracker_core.init(project=sys.argv[1], strict=sys.argv[2] == "strict", config={{"lr": 0.1}})
    try:
        for step in range({ROWS}):
            run.log({{"loss": 1.0 / (step + 1), "step_id": step}}, step=step)
    except tracker_core.PersistError as exc:
        print("persist-error", step, isinstance(exc, OSError), flush=True)
    else:
        print("logged", {ROWS}, flush=True)
    run.finish()
    print("finished", flush=True)
"""


def _fill(tmp_path: Path, mode: str) -> tuple[str, str, dict[str, object]]:
    done = run_script(tmp_path, CHILD, PROJECT, mode)
    assert done.returncode == 0, done.stderr
    meta = json.loads(Path(only_run(PROJECT).dir, "run.json").read_text())
    return done.stdout, done.stderr, meta


def test_full_disk_warns_once_and_training_runs_to_the_end(tmp_path: Path) -> None:
    stdout, stderr, _ = _fill(tmp_path, "lenient")
    assert stdout.split("\n")[:2] == [f"logged {ROWS}", "finished"]
    assert stderr.count("TrackerWarning") == 1, stderr
    assert "could not write" in stderr
    assert "File too large" in stderr  # the real cause is named


def test_full_disk_leaves_only_complete_readable_records(tmp_path: Path) -> None:
    _fill(tmp_path, "lenient")
    run = only_run(PROJECT)
    log_path = Path(run.dir, "events.jsonl")
    assert log_path.stat().st_size <= LIMIT
    assert log_path.read_bytes().endswith(b"\n")  # a write cut short at the limit was undone
    assert run.bad_lines == 0
    assert not run.torn_tail
    assert run.seq_gaps == 0
    steps = [row["_step"] for row in run.history()]
    assert 0 < len(steps) < ROWS
    # rows are written in order until the limit; a later, shorter row may still fit in the space left
    assert steps[:100] == list(range(100))
    assert steps == sorted(set(steps))
    assert [row["step_id"] for row in run.history()] == steps
    assert run.config == {"lr": 0.1}


def test_full_disk_counts_the_records_not_written_in_run_json(tmp_path: Path) -> None:
    _, _, meta = _fill(tmp_path, "lenient")
    written = len(only_run(PROJECT).history())
    assert meta["status"] == "finished"
    assert isinstance(meta["records_not_written"], int)
    # every row past the limit, plus the final records that no longer fit
    assert meta["records_not_written"] >= ROWS - written


def test_full_disk_run_that_finished_reads_back_as_finished(tmp_path: Path) -> None:
    _, _, meta = _fill(tmp_path, "lenient")
    run = only_run(PROJECT)
    assert meta["status"] == "finished"
    assert run.status == "finished"  # the process called finish() and exited 0: not "crashed"
    assert run.exit_code == 0
    assert run.records_not_written >= ROWS - len(run.history())


def test_full_disk_in_strict_mode_raises_persist_error(tmp_path: Path) -> None:
    stdout, stderr, _ = _fill(tmp_path, "strict")
    first = stdout.split("\n")[0].split()
    assert first[0] == "persist-error", stdout + stderr
    assert first[2] == "True"  # PersistError is an OSError
    failed_step = int(first[1])
    assert 0 < failed_step < ROWS
    run = only_run(PROJECT)
    assert [row["_step"] for row in run.history()] == list(range(failed_step))
    assert run.bad_lines == 0


def test_full_disk_in_strict_mode_kills_no_tracker_thread(tmp_path: Path) -> None:
    # Strict mode raises into the caller's log(); a background record (provenance) that cannot be
    # written has no caller, and must not die as an uncaught exception in the tracker's thread.
    _, stderr, _ = _fill(tmp_path, "strict")
    assert "Exception in thread" not in stderr, stderr

"""Every run ends in a true state (DESIGN principles 2 and 3), proven with real processes and real signals."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest
from _procs import Child, events, only_run, run_script

import tracker_core

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

PROJECT = "states"

# argv: project, "busy" (log in a tight loop) or "idle" (sleep between rows), optional marker path.
LOOP = """
    import signal, sys, time
    from pathlib import Path

    if len(sys.argv) > 3:
        def on_term(signum, frame):
            Path(sys.argv[3]).write_text("handled")
            sys.exit(0)

        signal.signal(signal.SIGTERM, on_term)  # the program's own handler, installed before init

    import tracker_core

    run = tracker_core.init(project=sys.argv[1])
    busy = sys.argv[2] == "busy"
    step = 0
    while True:
        run.log({"i": step}, step=step)
        if step == 0:
            print("ready", flush=True)
        step += 1
        if not busy:
            time.sleep(0.005)
"""


def _end_with(tmp_path: Path, ending: str) -> tuple[int, str, tracker_core.StoredRun]:
    """Run a child that logs three rows and then ends with ``ending``; its exit status, stderr and run."""
    done = run_script(tmp_path, f"""
        import os, sys
        import tracker_core

        run = tracker_core.init(project=sys.argv[1])
        for step in range(3):
            run.log({{"i": step}}, step=step)
        {ending}
    """, PROJECT)
    return done.returncode, done.stderr, only_run(PROJECT)


def _wait_for_output(path: Path, child: Child, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size > 0):
        assert child.proc.poll() is None, f"the child exited early\n{child.stderr}"
        assert time.monotonic() < deadline, f"the child printed nothing in {timeout} s\n{child.stderr}"
        time.sleep(0.01)


def test_sigkill_at_a_random_moment_loses_no_acknowledged_step(tmp_path: Path) -> None:
    acked_path = tmp_path / "acknowledged.txt"
    body = """
        import sys
        import tracker_core

        run = tracker_core.init(project=sys.argv[1])
        step = 0
        while True:
            run.log({"i": step, "loss": 1.0 / (step + 1)}, step=step)
            print(step, flush=True)  # log() returned: the step is acknowledged
            step += 1
    """
    with Child(tmp_path, body, PROJECT, stdout_path=acked_path) as child:
        _wait_for_output(acked_path, child)
        time.sleep(random.uniform(0.5, 2.0))
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
    complete_lines = acked_path.read_bytes().split(b"\n")[:-1]
    acknowledged = [int(line) for line in complete_lines]
    assert acknowledged, "the child acknowledged no step before the kill"

    run = only_run(PROJECT)
    logged = {row["_step"]: row["i"] for row in run.history()}
    missing = [step for step in acknowledged if logged.get(step) != step]
    assert not missing, f"{len(missing)} acknowledged steps lost, first {missing[:5]}"
    assert sorted(logged) == list(range(len(logged)))
    assert run.status == "crashed"
    assert run.exit_code is None
    assert run.seq_gaps == 0
    assert run.bad_lines == 0


@pytest.mark.parametrize("activity", ["busy", "idle"])
def test_sigterm_with_default_disposition_ends_killed_and_dies_by_sigterm(tmp_path: Path, activity: str) -> None:
    with Child(tmp_path, LOOP, PROJECT, activity) as child:
        child.expect("ready")
        time.sleep(0.2)
        child.proc.send_signal(signal.SIGTERM)
        assert child.wait() == -signal.SIGTERM, child.stderr
    run = only_run(PROJECT)
    assert run.status == "killed"
    assert run.exit_code == 143
    assert run.signal == "SIGTERM"
    assert run.seq_gaps == 0


# A background thread (the system sampler, the heartbeat, an uploader) holds the run's lock when SIGTERM
# lands, and the main thread then writes nothing more: it waits on stdin, as a loader or a long evaluation would.
HELD_BY_A_THREAD = """
    import sys, threading, time
    import tracker_core

    run = tracker_core.init(project=sys.argv[1], heartbeat_interval=600)
    run.log({"i": 0})
    held = threading.Event()

    def hold():
        with run._records.lock:  # what a slow write on a loaded disk does
            held.set()
            time.sleep(1.0)

    threading.Thread(target=hold, daemon=True).start()
    held.wait()
    print("ready", flush=True)
    sys.stdin.readline()
"""


def test_sigterm_while_a_background_thread_holds_the_runs_lock_still_ends_killed(tmp_path: Path) -> None:
    with Child(tmp_path, HELD_BY_A_THREAD, PROJECT) as child:
        child.expect("ready")
        child.proc.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) == -signal.SIGTERM, child.stderr
    run = only_run(PROJECT)
    assert (run.status, run.signal, run.exit_code) == ("killed", "SIGTERM", 143)


# Prints {thread name: its blocked-signal mask} for each thread but the main one, once the run's services run.
THREAD_MASKS = """
    import json, sys, threading
    from pathlib import Path
    import tracker_core

    run = tracker_core.init(project=sys.argv[1])
    Path("live.txt").write_text("x")
    run.save("live.txt", policy="live")
    run.log({"loss": 0.5})
    masks = {}
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
            masks[thread.name] = int(status.split("SigBlk:")[1].split()[0], 16)
    print(json.dumps(masks))
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads thread signal masks from Linux's /proc")
def test_the_trackers_threads_leave_sigint_and_sigterm_to_the_main_thread(tmp_path: Path) -> None:
    """Python handles a signal on the main thread only, and only once it runs again: a SIGTERM that one of the
    tracker's threads took while the main thread slept in input() was never handled (see _workers)."""
    done = run_script(tmp_path, THREAD_MASKS, PROJECT)
    assert done.returncode == 0, done.stderr
    masks = json.loads(done.stdout.splitlines()[-1])
    assert len(masks) >= 3, masks  # heartbeat, system sampler, live file copier
    wanted = 1 << (signal.SIGINT - 1) | 1 << (signal.SIGTERM - 1)
    assert {name: mask & wanted for name, mask in masks.items()} == dict.fromkeys(masks, wanted)


@pytest.mark.parametrize("activity", ["busy", "idle"])
def test_sigterm_calls_the_programs_own_handler_and_ends_killed(tmp_path: Path, activity: str) -> None:
    marker = tmp_path / "handler-ran"
    with Child(tmp_path, LOOP, PROJECT, activity, str(marker)) as child:
        child.expect("ready")
        time.sleep(0.2)
        child.proc.send_signal(signal.SIGTERM)
        assert child.wait() == 0, child.stderr  # the handler's sys.exit(0)
    assert marker.read_text() == "handled"
    run = only_run(PROJECT)
    assert run.status == "killed"
    assert run.signal == "SIGTERM"
    assert run.exit_code == 143


def _interrupt(tmp_path: Path) -> tuple[int, str, tracker_core.StoredRun]:
    """SIGINT a logging child; its exit status, stderr and run."""
    with Child(tmp_path, LOOP, PROJECT, "idle") as child:
        child.expect("ready")
        time.sleep(0.2)
        child.proc.send_signal(signal.SIGINT)
        code = child.wait()
        return code, child.stderr, only_run(PROJECT)


def test_sigint_ends_killed_with_exit_code_130(tmp_path: Path) -> None:
    _, stderr, run = _interrupt(tmp_path)
    assert "KeyboardInterrupt" in stderr
    assert run.status == "killed"
    assert run.exit_code == 130
    assert run.signal == "SIGINT"


def test_sigint_still_ends_the_process_by_sigint_as_without_the_tracker(tmp_path: Path) -> None:
    # CPython re-raises SIGINT when a KeyboardInterrupt ends the program, so shells and launchers
    # see "killed by SIGINT" (-2), not exit status 1; the tracker's hooks must not change that.
    code, stderr, _ = _interrupt(tmp_path)
    assert code == -signal.SIGINT, stderr


def test_a_keyboard_interrupt_raised_in_code_reads_back_as_sigint(tmp_path: Path) -> None:
    _, _, run = _end_with(tmp_path, "raise KeyboardInterrupt")
    assert run.status == "killed" and run.exit_code == 130
    assert run.signal == "SIGINT"  # from the final status record: no signal arrived, so no signal record


def test_uncaught_exception_ends_failed_with_its_traceback(tmp_path: Path) -> None:
    code, stderr, run = _end_with(tmp_path, 'raise RuntimeError("loss exploded at step 2")')
    assert code == 1
    assert "loss exploded at step 2" in stderr  # the previous excepthook still printed it
    assert run.status == "failed"
    assert run.exit_code == 1
    assert run.traceback is not None
    assert "RuntimeError: loss exploded at step 2" in run.traceback


def test_sys_exit_with_nonzero_code_ends_failed_with_that_code(tmp_path: Path) -> None:
    code, _, run = _end_with(tmp_path, "sys.exit(3)")
    assert code == 3
    assert run.status == "failed"
    assert run.exit_code == 3


def test_builtin_exit_with_nonzero_code_ends_failed_with_that_code(tmp_path: Path) -> None:
    code, _, run = _end_with(tmp_path, "exit(4)")  # site's exit(): raises SystemExit without sys.exit
    assert code == 4
    assert run.status == "failed"
    assert run.exit_code == 4


def test_normal_end_without_finish_ends_finished(tmp_path: Path) -> None:
    code, _, run = _end_with(tmp_path, "pass")
    assert code == 0
    assert run.status == "finished"
    assert run.exit_code == 0
    assert [row["i"] for row in run.history()] == [0, 1, 2]


def test_os_exit_without_finish_reads_as_crashed(tmp_path: Path) -> None:
    code, _, run = _end_with(tmp_path, "os._exit(0)")
    assert code == 0
    assert run.status == "crashed"
    assert run.exit_code is None
    assert [row["i"] for row in run.history()] == [0, 1, 2]


def test_keyboard_interrupt_caught_in_a_notebook_cell_does_not_end_the_run(tmp_path: Path) -> None:
    done = run_script(tmp_path, """
        import signal, sys, time
        import tracker_core

        run = tracker_core.init(project=sys.argv[1])
        run.log({"i": 0})
        try:  # a cell interrupted with the stop button; the next cell goes on logging
            signal.raise_signal(signal.SIGINT)
            time.sleep(5)
            print("not interrupted")
        except KeyboardInterrupt:
            print("interrupted")
        run.log({"i": 1})
        run.log({"i": 2})
    """, PROJECT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["interrupted"]
    run = only_run(PROJECT)
    assert run.status == "finished"
    assert run.exit_code == 0
    assert [row["i"] for row in run.history()] == [0, 1, 2]


def test_exception_in_with_block_ends_failed_with_traceback() -> None:
    with pytest.raises(ValueError, match="bad batch"), tracker_core.init(project=PROJECT) as run:
        run.log({"i": 0})
        raise ValueError("bad batch")
    stored = tracker_core.Api().run(run.path)
    assert stored.status == "failed"
    assert stored.exit_code == 1
    assert stored.traceback is not None
    assert "ValueError: bad batch" in stored.traceback


def test_finish_twice_is_harmless_and_keeps_the_first_final_state() -> None:
    run = tracker_core.init(project=PROJECT)
    run.log({"i": 0})
    run.finish()
    run.finish()
    run.finish(exit_code=1)
    stored = tracker_core.Api().run(run.path)
    assert stored.status == "finished"
    assert stored.exit_code == 0
    finals = [r for r in events(stored) if r["type"] == "status" and r["status"] != "running"]
    assert len(finals) == 1
    assert stored.seq_gaps == 0


def test_run_of_a_live_process_reads_running_then_crashed_once_killed(tmp_path: Path) -> None:
    body = """
        import sys, time
        import tracker_core

        run = tracker_core.init(project=sys.argv[1])
        run.log({"i": 0})
        print("ready", flush=True)
        time.sleep(120)
    """
    with Child(tmp_path, body, PROJECT) as child:
        child.expect("ready")
        live = only_run(PROJECT)
        assert live.status == "running"
        assert [row["i"] for row in live.history()] == [0]
        child.kill()
    assert only_run(PROJECT).status == "crashed"

"""A process forked from a logging process never writes into its parent's run (DESIGN principle 4)."""

from __future__ import annotations

import fcntl
import os
import time
import warnings
from pathlib import Path

import pytest
from _procs import events, only_run, requires_torch, run_script

import tracker_core

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

PROJECT = "fork"


def _in_forked_child(action: object, timeout: float = 30.0) -> tuple[int, str]:
    """Fork; the child runs ``action()`` and returns text through a pipe. The child's exit code and that text."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into the test session
        code = 1
        try:
            os.close(read_fd)
            os.write(write_fd, action().encode())  # type: ignore[operator]
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    deadline = time.monotonic() + timeout
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise AssertionError(f"the forked child hung for {timeout} s")
        time.sleep(0.01)
    with os.fdopen(read_fd, "rb") as pipe:
        text = pipe.read().decode()
    return os.waitstatus_to_exitcode(done[1]), text


def test_forked_child_calls_write_nothing_and_warn_once() -> None:
    # No heartbeat or provenance record can land during the test: the log must stay byte for byte the same.
    run = tracker_core.init(project=PROJECT, provenance_exclude=["all"], heartbeat_interval=600, fsync_interval=600)
    run.log({"parent": 0})
    log_path = Path(run.dir or "", "events.jsonl")
    before = log_path.read_bytes()

    def child() -> str:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run.log({"child": 1})
            run.log({"child": 2}, step=50)
            tracker_core.log({"child": 3})
            run.define_metric("child", summary="max")
            run.summary["child"] = 1
            run.finish()
            run.finish(exit_code=1)
        return "\n".join(str(w.message) for w in caught if issubclass(w.category, tracker_core.TrackerWarning))

    code, messages = _in_forked_child(child)
    assert code == 0
    assert len(messages.splitlines()) == 1, messages
    assert "forked" in messages
    assert log_path.read_bytes() == before
    assert only_run(PROJECT).status == "running"
    # the child did not release the parent's writer lock
    with open(Path(run.dir or "", ".lock"), "rb") as lock, pytest.raises(BlockingIOError):
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    run.log({"parent": 1})
    run.finish()
    stored = only_run(PROJECT)
    assert stored.status == "finished"
    assert [{k: v for k, v in row.items() if not k.startswith("_")} for row in stored.history()] == [
        {"parent": 0}, {"parent": 1}]
    assert "child" not in stored.summary
    assert stored.seq_gaps == 0


def test_forked_child_dying_of_an_exception_leaves_the_parents_run_alone(tmp_path: Path) -> None:
    done = run_script(tmp_path, """
        import os, sys
        import tracker_core

        run = tracker_core.init(project=sys.argv[1])
        run.log({"parent": 0})
        pid = os.fork()
        if pid == 0:
            run.log({"child": 1})
            tracker_core.finish()
            raise RuntimeError("worker failed")  # the child's excepthook and atexit hooks run here
        _, status = os.waitpid(pid, 0)
        print("child-exit", os.waitstatus_to_exitcode(status))
        print("status-after-child", tracker_core.Api().run(run.path).status, flush=True)
        run.log({"parent": 1})
    """, PROJECT)
    assert done.returncode == 0, done.stderr
    assert "child-exit 1" in done.stdout
    assert "status-after-child running" in done.stdout
    assert "RuntimeError: worker failed" in done.stderr
    assert done.stderr.count("TrackerWarning") == 1, done.stderr
    run = only_run(PROJECT)
    assert run.status == "finished"
    assert run.traceback is None
    assert [r["status"] for r in events(run) if r["type"] == "status"] == ["running", "finished"]
    assert [row.get("parent") for row in run.history()] == [0, 1]
    assert all("child" not in row for row in run.history())


@requires_torch
def test_dataloader_workers_logging_in_getitem_do_not_write_into_the_run(tmp_path: Path) -> None:
    done = run_script(tmp_path, """
        import sys
        import torch
        from torch.utils.data import DataLoader, Dataset
        import tracker_core


        class Items(Dataset):
            def __len__(self):
                return 16

            def __getitem__(self, index):
                tracker_core.log({"worker/item": index})  # runs in a forked worker process
                return torch.tensor(float(index))


        run = tracker_core.init(project=sys.argv[1])
        loader = DataLoader(Items(), batch_size=4, num_workers=2, multiprocessing_context="fork")
        for batch in loader:
            run.log({"batch/sum": float(batch.sum())})
        run.finish()
    """, PROJECT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("TrackerWarning") == 2, done.stderr  # once in each of the two workers
    run = only_run(PROJECT)
    assert run.status == "finished"
    assert [row["batch/sum"] for row in run.history()] == [6.0, 22.0, 38.0, 54.0]
    assert all("worker/item" not in row for row in run.history())
    assert run.seq_gaps == 0

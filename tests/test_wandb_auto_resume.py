"""``init(resume="auto")`` continues the store's last run that did not finish cleanly, as W&B does with its
``wandb/wandb-resume.json``; a clean finish removes the file, so the next start is a new run."""

from __future__ import annotations

import signal
from pathlib import Path

from _procs import Child, events, only_run, run_script

import tracker_core
from tracker_core import Api
from tracker_core._auto_resume import FILE_NAME

TRAIN = """
    import sys
    import tracker_core as wandb

    run = wandb.init(project="preemptible", resume="auto", config={"lr": 0.01})
    print("START", run.id, run.resumed, run.step, flush=True)
    last = int(sys.argv[1])
    for step in range(run.step, last):
        wandb.log({"loss": 1.0 / (step + 1)})
    print("LOGGED", run.step, flush=True)
    if sys.argv[2] == "hang":
        sys.stdin.readline()  # killed here
    wandb.finish()
"""


def test_a_sigkilled_run_is_continued_by_the_next_resume_auto_and_a_clean_finish_forgets_it(
        tmp_path: Path, store: Path) -> None:
    with Child(tmp_path, TRAIN, "5", "hang") as first:
        run_id = first.expect("START").split()[1]
        first.expect("LOGGED 5")
        assert (store / FILE_NAME).exists()
        first.proc.send_signal(signal.SIGKILL)
        assert first.wait() == -signal.SIGKILL
    assert only_run("preemptible").state == "crashed"

    second = run_script(tmp_path, TRAIN, "9", "finish", name="again.py")
    assert second.returncode == 0, second.stderr
    assert f"START {run_id} True 5" in second.stdout  # the same run, steps go on from 5
    stored = only_run("preemptible")  # one run in the store, not two
    assert stored.id == run_id and stored.state == "finished"
    assert [row["_step"] for row in stored.history()] == list(range(9))
    assert [record["seq"] for record in events(stored)] == list(range(1, len(events(stored)) + 1))
    assert not (store / FILE_NAME).exists()  # finished cleanly: nothing left to resume

    third = run_script(tmp_path, TRAIN, "2", "finish", name="third.py")
    assert third.returncode == 0, third.stderr
    assert f"START {run_id}" not in third.stdout and " False 0" in third.stdout
    assert len(Api().runs("preemptible")) == 2


def test_a_failed_run_is_resumed_and_resume_true_means_auto(store: Path) -> None:
    run = tracker_core.init(project="p", resume=True)
    run.log({"x": 1})
    run.finish(exit_code=3)  # failed: W&B keeps its resume file too
    again = tracker_core.init(project="p", resume=True)
    assert again.id == run.id and again.resumed and again.step == 1
    again.finish()
    fresh = tracker_core.init(project="p", resume="auto")
    assert fresh.id != run.id and not fresh.resumed
    fresh.finish()


def test_the_resume_file_is_for_its_project_only_and_plain_runs_do_not_write_it(store: Path) -> None:
    plain = tracker_core.init(project="p")
    assert not (store / FILE_NAME).exists()
    plain.finish(exit_code=1)
    noted = tracker_core.init(project="p", resume="auto")
    assert noted.id != plain.id  # only resume="auto" runs note themselves
    tracker_core.finish(exit_code=1)
    elsewhere = tracker_core.init(project="other", resume="auto")
    assert elsewhere.id != noted.id and elsewhere.project == "other"
    elsewhere.finish()

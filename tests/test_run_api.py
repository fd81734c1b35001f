"""The run's user-facing API inside one process: module-level calls, reinit, threads, modes, resume."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

import tracker_core
from tracker_core import RunStateError, TrackerWarning


def test_module_level_calls_act_on_the_active_run() -> None:
    assert tracker_core.run is None and tracker_core.config is None
    run = tracker_core.init(project="fluent", config={"lr": 0.1})
    assert tracker_core.run is run and tracker_core.config.lr == 0.1
    tracker_core.define_metric("loss", summary="min")
    tracker_core.log({"loss": 0.3})
    tracker_core.log({"loss": 0.5})
    assert tracker_core.summary["loss"] == 0.3
    tracker_core.finish()
    assert tracker_core.run is None
    assert tracker_core.Api().run(run.path).status == "finished"


def test_module_level_log_without_a_run_raises_with_a_hint() -> None:
    with pytest.raises(RunStateError, match=r"Hint: call tracker_core\.init"):
        tracker_core.log({"x": 1})


def test_init_finishes_the_active_run_and_reinit_can_return_it() -> None:
    first = tracker_core.init(project="fluent")
    assert tracker_core.init(project="fluent", reinit="return_previous") is first
    second = tracker_core.init(project="fluent")
    assert second is not first and tracker_core.run is second
    assert tracker_core.Api().run(first.path).status == "finished"


def test_sequential_runs_in_one_process_each_start_clean() -> None:
    ids = []
    for trial in range(3):
        with tracker_core.init(project="sweep", config={"trial": trial}) as run:
            run.define_metric("loss", summary="min")
            run.log({"loss": 1.0 - trial / 10}, step=trial * 5)
            ids.append(run.id)
    stored = {r.id: r for r in tracker_core.Api().runs("sweep")}
    assert set(stored) == set(ids)
    for trial, run_id in enumerate(ids):
        assert stored[run_id].config == {"trial": trial}
        assert [row["_step"] for row in stored[run_id].history()] == [trial * 5]
        assert stored[run_id].status == "finished"


def test_finish_with_a_nonzero_exit_code_marks_failed() -> None:
    run = tracker_core.init(project="fluent")
    run.finish(exit_code=2)
    run.finish()  # idempotent: the first final state stays
    stored = tracker_core.Api().run(run.id)
    assert (stored.status, stored.exit_code) == ("failed", 2)


def test_logging_after_finish_is_ignored_with_one_warning() -> None:
    run = tracker_core.init(project="fluent")
    run.finish()
    with pytest.warns(TrackerWarning, match="finished"):
        run.log({"x": 1})
    run.log({"x": 2})  # no second warning


def test_concurrent_logging_from_threads_loses_nothing_and_numbers_every_record() -> None:
    run = tracker_core.init(project="threads")
    per_thread = 2000

    def work(index: int) -> None:
        for i in range(per_thread):
            run.log({f"thread{index}": i})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.finish()
    stored = tracker_core.Api().run(run.path)
    assert stored.seq_gaps == 0
    rows = stored.history()
    assert len(rows) == 4 * per_thread
    for n in range(4):
        assert sorted(row[f"thread{n}"] for row in rows if f"thread{n}" in row) == list(range(per_thread))


def test_disabled_mode_accepts_every_call_and_writes_nothing(store: Path) -> None:
    run = tracker_core.init(project="off", mode="disabled", config={"lr": 0.1})
    run.define_metric("loss", summary="min")
    run.log({"loss": 1.0})
    run.summary["x"] = 1
    run.config.update({"b": 2})
    assert run.config.lr == 0.1 and run.disabled and run.dir is None
    run.finish()
    assert not store.exists()


def test_resume_continues_the_run_and_its_numbering() -> None:
    run = tracker_core.init(project="resume", id="run-1", config={"lr": 0.1})
    run.define_metric("loss", summary="min")
    for step in range(5):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    run.finish()
    resumed = tracker_core.init(project="resume", id="run-1", resume="must")
    assert resumed.config.lr == 0.1 and resumed.step == 5 and resumed.summary["loss"] == 0.2
    resumed.log({"loss": 0.1})
    resumed.finish()
    stored = tracker_core.Api().run("resume/run-1")
    assert [row["_step"] for row in stored.history()] == [0, 1, 2, 3, 4, 5]
    assert stored.seq_gaps == 0 and stored.status == "finished" and stored.summary["loss"] == 0.1


def test_resume_from_step_supersedes_later_history_without_editing_it() -> None:
    run = tracker_core.init(project="resume", id="rewind")
    run.define_metric("loss", summary="min")
    for step in range(10):
        run.log({"loss": 1.0 - step / 20}, step=step)
    run.finish()
    size_before = Path(run.dir, "events.jsonl").stat().st_size
    with open(Path(run.dir, "events.jsonl"), "rb") as handle:
        original = handle.read()
    resumed = tracker_core.init(project="resume", id="rewind", resume="allow", resume_from_step=5)
    assert resumed.step == 6
    for step in range(6, 9):
        resumed.log({"loss": 2.0}, step=step)  # no warnings: the new steps are not "behind"
    resumed.finish()
    with open(Path(run.dir, "events.jsonl"), "rb") as handle:
        assert handle.read(size_before) == original  # old records untouched
    stored = tracker_core.Api().run("resume/rewind")
    assert [row["_step"] for row in stored.history()] == list(range(9))
    assert [row["loss"] for row in stored.history()][6:] == [2.0, 2.0, 2.0]
    assert stored.summary["loss"] == pytest.approx(0.75)  # the min of steps 0..5 and the new ones


def test_provenance_is_recorded_in_the_background(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q"], ["config", "user.email", "a@b"], ["config", "user.name", "a"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    (repo / "train.py").write_text("print(1)\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "x"], cwd=repo, check=True)
    (repo / "train.py").write_text("print(2)\n")
    code = ("import tracker_core; r = tracker_core.init(project='prov', provenance_exclude=['packages']); "
            "r.finish(); print(r.path)")
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True)
    prov = tracker_core.Api().run(done.stdout.strip()).provenance
    assert prov is not None
    assert prov["git"]["dirty"] is True and "print(2)" in prov["git"]["diff"]
    assert len(prov["git"]["commit"]) == 40 and prov["cwd"] == str(repo)
    assert "packages" not in prov and prov["python"]["version"].startswith("3.")


def test_console_output_is_saved_without_changing_what_the_user_sees() -> None:
    code = ("import sys, tracker_core; r = tracker_core.init(project='console', console='auto'); "
            "print('hello out'); print('hello err', file=sys.stderr); r.finish(); print(r.dir)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("hello out\n") and "hello err" in done.stderr
    saved = Path(done.stdout.strip().splitlines()[-1], "files", "output.log").read_text()
    assert "hello out" in saved and "hello err" in saved


def test_system_metrics_are_sampled_against_wall_clock_time() -> None:
    import time

    run = tracker_core.init(project="system", system_interval=0.1)
    run.log({"loss": 1.0})
    time.sleep(0.8)
    run.finish()
    stored = tracker_core.Api().run(run.path)
    samples = stored.system_metrics()
    assert 3 <= len(samples) <= 12
    assert all(s["_timestamp"] for s in samples) and samples == sorted(samples, key=lambda s: s["_timestamp"])
    assert 0 < samples[-1]["system/process_rss_mb"] < 100_000 and 0 <= samples[-1]["system/memory_percent"] <= 100
    assert [row["_step"] for row in stored.history()] == [0]  # not in the step history


def test_the_sampler_can_be_turned_off() -> None:
    import time

    run = tracker_core.init(project="system", system_interval=0)
    time.sleep(0.3)
    run.finish()
    assert tracker_core.Api().run(run.path).system_metrics() == []


def test_history_on_another_axis_skips_rows_whose_value_is_not_a_number() -> None:
    run = tracker_core.init(project="axis")
    run.log({"epoch": 1, "acc": 0.5})
    run.log({"epoch": None, "acc": 0.6})
    run.log({"epoch": 0, "acc": 0.4})
    run.finish()
    rows = tracker_core.Api().run(run.path).history(x="epoch")
    assert [(row["epoch"], row["acc"]) for row in rows] == [(0, 0.4), (1, 0.5)]

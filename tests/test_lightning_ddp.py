"""TrackerLogger under real multi-process launches on CPU (gloo): Lightning's own DDP launcher,
torchrun, ddp_spawn and ddp_fork. Each job must leave exactly one run, holding rank 0's metrics,
its fit and its test, and one model artifact."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("lightning")

from _procs import child_env, events, only_run, run_command, write_script

TESTS = str(Path(__file__).parent)

JOB = """
    import sys
    import tracker_core
    from lightning.pytorch.callbacks import ModelCheckpoint
    from _lightning_tiny import Tiny, loader, trainer
    from integrations.lightning import TrackerLogger

    if __name__ == "__main__":
        strategy, user_run = sys.argv[1], sys.argv[2] == "user-run"
        if user_run:  # the script starts the run itself, before the Trainer exists
            tracker_core.init(project="job", name="started-by-the-script")
        logger = TrackerLogger(project="job", log_model=True)
        model = Tiny(marker=7.0, watch=True)  # watched from inside: the processes get a copy of the model
        tr = trainer(logger=logger, strategy=strategy, devices=2, max_epochs=2,
                     callbacks=[ModelCheckpoint(monitor="val/loss")])
        tr.fit(model, loader(), loader())
        tr.test(model, loader())
        print("DONE", tr.global_rank, logger.version, flush=True)
        import torch.distributed as dist

        if dist.is_initialized():  # as a torchrun script should: no gloo thread left running at interpreter exit
            dist.destroy_process_group()
"""


def run_job(tmp_path: Path, strategy: str, user_run: bool = False, torchrun: bool = False) -> None:
    script = str(write_script(tmp_path, JOB, "job.py"))
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"] if torchrun else [sys.executable]
    result = run_command([*launcher, script, strategy, "user-run" if user_run else "-"],
                         env=child_env(PYTHONPATH=TESTS), timeout=150, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("DONE") in (1, 2), result.stdout  # spawn/fork: printed by the main process only
    check_one_run_from_rank_0(user_run)


def check_one_run_from_rank_0(user_run: bool) -> None:
    stored = only_run("job")
    assert stored.status == "finished"
    if user_run:
        assert stored.name == "started-by-the-script"
    rows = stored.history()
    train = [row for row in rows if "train/loss_step" in row]
    assert [row["_step"] for row in train] == [0, 1, 2, 3]  # 32 samples, 2 ranks, batches of 8, 2 epochs
    assert {row["rank"] for row in train} == {0.0} and {row["marker"] for row in train} == {7.0}
    assert all("gradients/net.weight" in row for row in train)
    assert "val/loss" in stored.summary and "test/loss" in stored.summary
    assert len(stored.logged_artifacts()) == 1 and stored.logged_artifacts()[0].aliases  # best (and latest)
    seqs = [e["seq"] for e in events(stored)]
    assert seqs == list(range(1, len(seqs) + 1))  # one log, no gaps, whoever wrote it


@pytest.mark.slow
@pytest.mark.parametrize("user_run", [False, True], ids=["logger-run", "script-run"])
def test_lightning_ddp_launcher_gives_one_run(tmp_path: Path, user_run: bool) -> None:
    run_job(tmp_path, "ddp", user_run=user_run)


@pytest.mark.slow
def test_torchrun_gives_one_run(tmp_path: Path) -> None:
    run_job(tmp_path, "ddp", user_run=True, torchrun=True)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["ddp_spawn", "ddp_fork"])
def test_spawned_processes_continue_the_run_and_hand_it_back(tmp_path: Path, strategy: str) -> None:
    run_job(tmp_path, strategy)
    stored = only_run("job")
    kinds = [e["type"] for e in events(stored)]
    assert kinds.count("detach") == 3  # main -> fit's rank 0 -> test's rank 0 -> main (at exit)
    writers = [e["pid"] for e in events(stored) if e["type"] == "run"]
    assert len(writers) == 4 and len(set(writers)) == 3 and writers[0] == writers[-1]


FAILING_JOB = """
    import sys
    from _lightning_tiny import Tiny, loader, trainer
    from integrations.lightning import TrackerLogger

    if __name__ == "__main__":
        where = sys.argv[1]
        model = Tiny(fail_at=1 if where == "in-fit" else -1)
        trainer(logger=TrackerLogger(project="job"), strategy="ddp_fork", devices=2).fit(model, loader())
        raise ValueError("failed after fit")
"""


@pytest.mark.slow
@pytest.mark.parametrize("where", ["in-fit", "after-fit"])
def test_a_failure_with_a_handed_over_run_ends_it_failed_with_the_traceback(tmp_path: Path, where: str) -> None:
    script = str(write_script(tmp_path, FAILING_JOB, "job.py"))
    result = run_command([sys.executable, script, where], env=child_env(PYTHONPATH=TESTS), timeout=150, cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-3000:]
    stored = only_run("job")
    assert stored.status == "failed"
    # in fit: rank 0's exception, as the main process receives it; after fit: the script's own
    assert ("boom in training_step" if where == "in-fit" else "failed after fit") in stored.traceback

"""One run per job, not one per rank (DESIGN principle 4), under real launchers' environments."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from _procs import child_env, only_run, requires_torch, run_command, run_script, write_script

import tracker_core

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

PROJECT = "ddp"

DDP_SCRIPT = """
    import sys
    import torch.distributed as dist
    import tracker_core

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    run = tracker_core.init(project=sys.argv[1], distributed=sys.argv[2], config={"lr": 0.1})
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1), "rank": rank}, step=step)
    run.summary["last_rank"] = rank
    run.finish()
    dist.barrier()
    dist.destroy_process_group()
"""

PLAIN_SCRIPT = """
    import json, sys
    import tracker_core

    run = tracker_core.init(project=sys.argv[1], config={"lr": 0.1, "optimizer": {"name": "adam"}})
    run.log({"loss": 0.5})
    run.define_metric("val/*", step_metric="epoch", summary="min")
    run.summary["best"] = 0.5
    report = {"disabled": run.disabled, "lr": run.config.lr, "optimizer": run.config["optimizer"]["name"]}
    run.finish()
    print(json.dumps(report), flush=True)
"""


def _meta(run: tracker_core.StoredRun) -> dict[str, Any]:
    return json.loads(Path(run.dir, "run.json").read_text())


def _torchrun(tmp_path: Path, distributed: str) -> None:
    script = write_script(tmp_path, DDP_SCRIPT, "ddp.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(script), PROJECT, distributed]
    done = run_command(command, env=child_env(OMP_NUM_THREADS="1"), timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]


def _plain(tmp_path: Path, **rank_vars: str) -> dict[str, Any]:
    done = run_script(tmp_path, PLAIN_SCRIPT, PROJECT, env=child_env(**rank_vars))
    assert done.returncode == 0, done.stderr
    assert "TrackerWarning" not in done.stderr, done.stderr
    return json.loads(done.stdout)


@requires_torch
def test_torchrun_two_ranks_write_one_run_from_rank_zero(tmp_path: Path) -> None:
    _torchrun(tmp_path, "rank0")
    run = only_run(PROJECT)
    assert run.status == "finished"
    assert _meta(run)["rank"] == 0
    assert _meta(run)["rank_source"] == "RANK"
    assert [row["rank"] for row in run.history()] == [0, 0, 0]
    assert run.summary["last_rank"] == 0
    assert run.config == {"lr": 0.1}


@requires_torch
def test_torchrun_per_rank_runs_share_a_group_and_carry_their_rank(tmp_path: Path) -> None:
    _torchrun(tmp_path, "all")
    runs = sorted(tracker_core.Api().runs(PROJECT), key=lambda run: _meta(run)["rank"])
    assert [_meta(run)["rank"] for run in runs] == [0, 1]
    assert runs[0].group is not None
    assert runs[0].group == runs[1].group
    for rank, run in enumerate(runs):
        assert run.status == "finished"
        assert f"rank{rank}" in run.name
        assert f"rank{rank}" in run.tags
        assert [row["rank"] for row in run.history()] == [rank] * 3


def test_lightning_style_local_and_node_rank_give_one_run(tmp_path: Path) -> None:
    # Lightning's own DDP launcher sets LOCAL_RANK, NODE_RANK and WORLD_SIZE, but no RANK.
    reports = [_plain(tmp_path, LOCAL_RANK=local, NODE_RANK=node, WORLD_SIZE="4")
               for local, node in (("1", "0"), ("0", "1"), ("1", "1"), ("0", "0"))]
    assert [report["disabled"] for report in reports] == [True, True, True, False]
    run = only_run(PROJECT)
    assert run.status == "finished"
    assert _meta(run)["rank"] == 0
    assert _meta(run)["rank_source"] == "LOCAL_RANK"


def test_slurm_nonzero_procid_gets_a_disabled_run_with_readable_config(tmp_path: Path, store: Path) -> None:
    report = _plain(tmp_path, SLURM_PROCID="1")
    assert report == {"disabled": True, "lr": 0.1, "optimizer": "adam"}
    assert not store.exists() or not any(store.rglob("*")), sorted(store.rglob("*"))


def test_nonzero_rank_run_accepts_every_call_silently_and_writes_nothing(
        monkeypatch: pytest.MonkeyPatch, store: Path) -> None:
    monkeypatch.setenv("RANK", "1")
    run = tracker_core.init(project=PROJECT, config={"lr": 0.1})  # TrackerWarnings are errors here
    assert run.disabled
    assert tracker_core.run is run
    run.log({"loss": 1.0})
    run.log({"loss": 0.9}, step=10)
    run.log({"loss": 0.8}, step=2)  # behind the current step
    run.log({"loss": 0.7}, commit=False)
    tracker_core.log({"loss": 0.6})
    run.define_metric("val/*", step_metric="epoch", summary="min", goal="minimize")
    tracker_core.define_metric("train/*", summary="max")
    run.summary["best"] = 0.6
    run.summary.update({"epochs": 3})
    run.config.update({"wd": 0.01})
    assert run.config["lr"] == 0.1
    assert run.config.wd == 0.01
    run.finish()
    run.finish(exit_code=1)
    run.log({"loss": 0.5})  # after finish, too
    tracker_core.finish()
    assert tracker_core.run is None
    assert not store.exists() or not any(store.rglob("*")), sorted(store.rglob("*"))

"""A command trial under torchrun: one run (rank 0's), and every rank sees the trial's parameters."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import tracker_core
from tests._procs import child_env, requires_torch, run_command, write_script

pytest.importorskip("optuna")

DDP_TRAIN = """
import json, sys
import torch.distributed as dist
import tracker_core

dist.init_process_group("gloo")
rank = dist.get_rank()
run = tracker_core.init()
with open(f"seen-{rank}.json", "w") as file:
    json.dump({"config": dict(run.config.items()), "argv": sys.argv[1:], "disabled": run.disabled}, file)
for step in range(3):
    run.log({"loss": run.config.lr / (step + 1)})
run.finish()
dist.barrier()
dist.destroy_process_group()
"""


@requires_torch
@pytest.mark.slow
def test_a_torchrun_trial_is_one_run_and_every_rank_sees_the_parameters(tmp_path: Path) -> None:
    write_script(tmp_path, DDP_TRAIN, "ddp.py")
    torchrun = str(Path(sys.executable).parent / "torchrun")
    sweep_id = tracker_core.sweep(sweep={
        "method": "grid", "program": "ddp.py", "metric": {"name": "loss"},
        "command": [torchrun, "--standalone", "--nproc_per_node=2", "${program}", "${args}"],
        "parameters": {"lr": {"values": [0.5]}, "opt": {"value": "adam"}}}, project="ddp")
    done = run_command([sys.executable, "-m", "tracker_core.cli", "agent", sweep_id],
                       env=child_env(OMP_NUM_THREADS="1"), cwd=tmp_path, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    (run,) = tracker_core.Api().runs("ddp")
    assert run.state == "finished" and run.config == {"lr": 0.5, "opt": "adam"}
    assert len(run.history()) == 3
    seen = [json.loads((tmp_path / f"seen-{rank}.json").read_text()) for rank in (0, 1)]
    assert [s["config"] for s in seen] == [{"lr": 0.5, "opt": "adam"}] * 2
    assert [s["disabled"] for s in seen] == [False, True]  # rank 1 writes nothing
    assert [s["argv"] for s in seen] == [["--lr=0.5", "--opt=adam"]] * 2
    (trial,) = tracker_core.controller(sweep_id).trials()
    assert trial.state == "finished" and trial.run_id == run.id and trial.value == pytest.approx(0.5 / 3)

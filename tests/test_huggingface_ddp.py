"""``report_to="tracker"`` under ``torchrun --nproc_per_node=2`` on CPU (gloo): one run, from world process zero."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from _procs import child_env, events, only_run, run_command, write_script

pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SCRIPT = """
    import sys
    sys.path[:0] = [sys.argv[1]]
    from pathlib import Path
    import torch.distributed as dist
    from test_huggingface import trainer

    hf = trainer(Path("."), project="ddp", run_name="two-ranks")
    hf.train()
    hf.evaluate()
    Path(f"rank{dist.get_rank()}.txt").write_text(f"{dist.get_world_size()} {hf.state.is_world_process_zero}")
    dist.barrier()
    dist.destroy_process_group()
    # gloo's threads free the last collectives' tensors after the collective has returned, taking the GIL to
    # do it; one doing so while Python 3.11 finalizes is ended by pthread_exit inside a noexcept destructor:
    # "terminate called without an active exception", SIGABRT (rank 1, under load; CI saw it again with the
    # barrier above in place). So the script runs its exit handlers (the tracker ends its run there, which is
    # what this test checks) and then leaves without finalizing the interpreter.
    import atexit, os
    atexit._run_exitfuncs()
    sys.stdout.flush(); sys.stderr.flush()
    os._exit(0)
"""


def test_torchrun_two_processes_write_one_run(tmp_path: Path) -> None:
    script = write_script(tmp_path, SCRIPT, "ddp.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
               str(Path(__file__).parent)]
    done = run_command(command, env=child_env(OMP_NUM_THREADS="1"), timeout=180, cwd=tmp_path)
    assert done.returncode == 0, re.sub(r"\nExtension modules: [^\n]*", "", done.stderr)[-6000:]
    assert [(tmp_path / f"rank{rank}.txt").read_text() for rank in (0, 1)] == ["2 True", "2 False"]
    run = only_run("ddp")
    assert run.name == "two-ranks" and run.status == "finished"
    [opened] = [record for record in events(run) if record["type"] == "run"]
    assert opened["rank"] == 0
    assert [row["train/global_step"] for row in run.history() if "train/loss" in row] == [2, 4]
    assert len([row for row in run.history() if "eval/loss" in row]) == 3

"""A script that dies with an exception inside `with wandb.init()`: the run must end failed with
the traceback, and what it logged before must stay."""

import wandb

with wandb.init(project="corpus-failing") as run:
    run.log({"loss": 0.5})
    run.log({"loss": 0.4})
    raise RuntimeError("CUDA out of memory (simulated)")

"""Building one row with commit=False, and logging at explicit steps as W&B's log() docs show."""

import wandb

with wandb.init(project="corpus-commit") as run:
    for step in range(3):
        run.log({"train/loss": 1.0 - step / 10}, commit=False)
        run.log({"train/acc": step / 10})
    for step in range(10, 13):
        run.log({"eval/loss": step / 100}, step=step)
        run.log({"eval/acc": 1 - step / 100}, step=step)

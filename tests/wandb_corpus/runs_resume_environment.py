"""W&B's resume guide, the environment way: WANDB_RESUME=allow and a fixed WANDB_RUN_ID, so a restarted
job (here: the same loop run twice) continues the same run from wandb.run.step."""

import os

import wandb

os.environ["WANDB_RESUME"] = "allow"
os.environ["WANDB_RUN_ID"] = "env-resume-1"

for attempt in range(2):
    wandb.init(project="corpus-runs-resume-env", config={"epochs": 6, "lr": 0.01})
    print("ATTEMPT", attempt, wandb.run.id, wandb.run.resumed, wandb.run.step)
    start = wandb.run.step
    for epoch in range(start, start + 3):
        wandb.log({"epoch": epoch, "loss": 1.0 / (epoch + 1)})
    wandb.run.summary["last_attempt"] = attempt
    wandb.finish()

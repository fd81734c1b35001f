"""Summary values set by hand next to the automatic last-value summary."""

import math

import wandb

run = wandb.init(project="corpus-summary")
best = math.inf
for step in range(6):
    loss = [0.9, 0.4, 0.6, 0.3, 0.5, 0.45][step]
    wandb.log({"loss": loss, "lr": 0.1 * 0.5**step})
    if loss < best:
        best = loss
        wandb.run.summary["best_loss"] = best
        wandb.summary["best_step"] = step
wandb.summary.update({"test_accuracy": 0.91, "notes": "held-out split"})
run.summary["nan_check"] = float("nan")
run.finish()

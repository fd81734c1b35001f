"""W&B's define_metric guide: a custom x-axis for validation metrics and summaries by aggregate."""

import wandb

run = wandb.init(project="corpus-define-metric")
run.define_metric("epoch")
run.define_metric("val_loss", step_metric="epoch", summary="min")
run.define_metric("val_acc", step_metric="epoch", summary="max")
run.define_metric("train_loss", summary="mean")

batch = 0
for epoch in range(4):
    for _ in range(5):
        run.log({"train_loss": 1.0 / (batch + 1)})
        batch += 1
    run.log({"epoch": epoch, "val_loss": [0.9, 0.5, 0.7, 0.6][epoch], "val_acc": [0.6, 0.8, 0.7, 0.75][epoch]})
run.finish()

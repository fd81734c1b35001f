"""The quickstart shape: init with a config, log metrics every epoch, alert, finish."""

import random

import wandb

random.seed(0)
run = wandb.init(
    project="corpus-quickstart",
    config={"learning_rate": 0.02, "architecture": "CNN", "dataset": "CIFAR-100", "epochs": 10},
    tags=["baseline"],
    notes="first try",
)

offset = random.random() / 5
for epoch in range(2, wandb.config.epochs):
    acc = 1 - 2**-epoch - random.random() / epoch - offset
    loss = 2**-epoch + random.random() / epoch + offset
    wandb.log({"acc": acc, "loss": loss})

if wandb.run.summary["acc"] > 0.5:
    wandb.alert(title="Good accuracy", text=f"acc is {wandb.run.summary['acc']:.3f}")
print("RUN", wandb.run.path)
wandb.finish()

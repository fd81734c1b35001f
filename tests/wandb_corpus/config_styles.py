"""Every way W&B's docs set the config: a Namespace, attributes, items, update, setdefaults."""

import argparse

import wandb

parser = argparse.ArgumentParser()
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args([])

wandb.init(project="corpus-config", config=args)
wandb.config.dropout = 0.2
wandb.config["optimizer"] = "adam"
wandb.config.update({"layers": [64, 32], "schedule": {"name": "cosine", "warmup": 100}})
wandb.config.setdefaults({"dropout": 0.5, "seed": 1})
wandb.config.update({"epochs": 5}, allow_val_change=True)
for step in range(wandb.config.epochs):
    wandb.log({"loss": 1.0 / (step + 1)})
wandb.finish()

"""W&B's config-file docs: defaults in config-defaults.yaml beside the script (W&B's {desc, value} shape),
init(config=...) over them, and config.update() with another YAML file."""

import wandb

with open("config-defaults.yaml", "w") as handle:
    handle.write("epochs:\n  desc: Number of epochs to train over\n  value: 100\n"
                 "batch_size:\n  desc: Size of each mini-batch\n  value: 32\n")
with open("sweep-overrides.yaml", "w") as handle:
    handle.write("dropout:\n  value: 0.2\noptimizer:\n  value: adam\n")

run = wandb.init(project="corpus-runs-config-files", config={"epochs": 3})
wandb.config.update("sweep-overrides.yaml")
for epoch in range(wandb.config.epochs):
    wandb.log({"epoch": epoch, "loss": 1.0 / (epoch + 1)})
print("CONFIG", dict(wandb.config))
wandb.finish()

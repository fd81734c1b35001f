"""The init() options and set-up calls W&B scripts carry: require, login, Settings, save_code,
reinit, mode, and a log_code call."""

import os

import wandb

wandb.require("core")
wandb.login(key=os.environ.get("WANDB_API_KEY", "local-key-not-used"))

with open("helpers.py", "w") as handle:
    handle.write("def helper():\n    return 1\n")

run = wandb.init(
    project="corpus-options",
    entity="my-team",
    group="experiment-1",
    job_type="train",
    save_code=True,
    reinit=True,
    mode="offline",
    sync_tensorboard=False,
    settings=wandb.Settings(start_method="thread", x_disable_stats=True),
    config={"epochs": 2, "secret": "x"},
    config_exclude_keys=["secret"],
)
run.log_code(".")
print("OFFLINE", run.offline, "URL", run.url)
for epoch in range(run.config.epochs):
    wandb.log({"epoch": epoch})
wandb.finish()

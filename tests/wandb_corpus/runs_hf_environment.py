"""The Hugging Face guide's W&B set-up: project, name, tags and the rest set as WANDB_* variables in the
script before the run starts (as its notebooks do with os.environ / %env)."""

import os

import wandb

os.environ["WANDB_PROJECT"] = "corpus-runs-hf"
os.environ["WANDB_LOG_MODEL"] = "false"
os.environ["WANDB_WATCH"] = "false"
os.environ["WANDB_NAME"] = "bert-base-glue"
os.environ["WANDB_NOTES"] = "set through the environment"
os.environ["WANDB_TAGS"] = "hf,baseline"
os.environ["WANDB_RUN_GROUP"] = "glue-mrpc"
os.environ["WANDB_JOB_TYPE"] = "train"

run = wandb.init(config={"learning_rate": 5e-5, "per_device_train_batch_size": 16, "num_train_epochs": 1})
for global_step in range(1, 6):
    wandb.log({"train/loss": 1.0 / global_step, "train/learning_rate": 5e-5 * (1 - global_step / 5),
               "train/epoch": global_step / 5, "train/global_step": global_step})
wandb.log({"eval/accuracy": 0.84, "eval/loss": 0.41, "train/global_step": 5})
print("RUN", run.path, run.project, run.name)
wandb.finish()

"""W&B's "resume=True on preemptible machines" pattern: the first attempt is killed without a word
(SIGKILL, as the OOM killer or a lost node would), the restarted script passes resume="auto" again and
continues the same run from its last step."""

import os
import signal
import subprocess
import sys

import wandb

EPOCHS = 8


def train(kill_at: int | None) -> None:
    run = wandb.init(project="corpus-runs-preempt", resume="auto", config={"epochs": EPOCHS})
    print("START", run.id, run.resumed, run.step, flush=True)
    for epoch in range(run.step, EPOCHS):
        wandb.log({"epoch": epoch, "loss": 1.0 / (epoch + 1)})
        if epoch == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    wandb.finish()


if os.environ.get("CORPUS_ATTEMPT") == "first":
    train(kill_at=4)
else:
    first = subprocess.run([sys.executable, __file__], env={**os.environ, "CORPUS_ATTEMPT": "first"},
                           capture_output=True, text=True)
    print("FIRST", first.returncode, first.stdout.strip())
    train(kill_at=None)

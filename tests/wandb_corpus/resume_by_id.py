"""W&B's resume guide: a run started with an id, then continued in the same id with resume="allow"."""

import wandb

RUN_ID = "resume-demo-1"

run = wandb.init(project="corpus-resume", id=RUN_ID, resume="allow", config={"lr": 0.1})
for step in range(3):
    run.log({"loss": 1.0 - step / 10})
run.finish()

run = wandb.init(project="corpus-resume", id=RUN_ID, resume="allow")
print("RESUMED", run.resumed, run.step)
for step in range(3):
    run.log({"loss": 0.7 - step / 10})
run.finish()

run = wandb.init(project="corpus-resume", id=RUN_ID, resume=True)
run.log({"loss": 0.35})
run.finish()

"""W&B's rewind and fork guides, shortened: rewind a run to step 20, fork another from step 20."""

import math

import wandb

run1 = wandb.init(project="corpus-branch", config={"variant": "original"})
for i in range(30):
    run1.log({"metric": i})
run1.finish()

fork = wandb.init(project="corpus-branch", fork_from=f"{run1.id}?_step=20", config={"variant": "fork"})
for i in range(21, 30):
    fork.log({"metric": i + math.sin(i) * 10})
fork.finish()

rewound = wandb.init(project="corpus-branch", resume_from=f"{run1.id}?_step=20")
for i in range(21, 25):
    rewound.log({"metric": -i})
rewound.finish()
print("IDS", run1.id, fork.id)

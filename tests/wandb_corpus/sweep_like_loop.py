"""Several runs from one script, as sweep and cross-validation examples write them."""

import wandb

for fold in range(3):
    run = wandb.init(project="corpus-folds", group="cv-1", job_type="fold", name=f"fold-{fold}",
                     config={"fold": fold, "lr": 0.01}, reinit="finish_previous")
    for step in range(4):
        run.log({"val_acc": 0.5 + fold / 10 + step / 100})
    run.summary["final_acc"] = 0.5 + fold / 10 + 0.03
    run.finish()

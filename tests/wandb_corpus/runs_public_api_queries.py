"""W&B's Public API docs: a small sweep of runs, then Api().runs("entity/project", filters=..., order=...)
with MongoDB-style filters, pagination and scan_history over each run's rows."""

import wandb

SWEEP = [("lr-0.1", 0.1, [0.2, 0.4]), ("lr-0.003", 0.003, [0.5, 0.7, 0.9]),
         ("lr-0.001", 0.001, [0.6, 0.8]), ("lr-0.0003", 0.0003, [0.3, 0.5])]
for name, lr, accuracies in SWEEP:
    with wandb.init(project="corpus-runs-api", entity="my-team", name=name,
                    config={"lr": lr, "optimizer": "adam"}) as run:
        for epoch, acc in enumerate(accuracies):
            run.log({"acc": acc, "loss": round(1 - acc, 6), "epoch": epoch})

api = wandb.Api()
runs = api.runs("my-team/corpus-runs-api", filters={"config.lr": {"$lt": 0.01}}, order="-summary_metrics.acc",
                per_page=2)
print("COUNT", len(runs))
for run in runs:
    losses = [row["loss"] for row in run.scan_history(keys=["loss"])]
    print("RUN", run.name, run.state, run.config["lr"], run.summary_metrics["acc"], losses)
print("BEST", runs[0].name, [run.name for run in runs[1:3]])
high_lr = api.runs("my-team/corpus-runs-api", filters={"$and": [{"config.optimizer": "adam"},
                                                                {"config.lr": {"$not": {"$lt": 0.01}}}]})
print("NOT", [run.name for run in high_lr])
named = api.runs("my-team/corpus-runs-api", filters={"display_name": {"$regex": "^lr-0.00"}, "state": "finished"})
print("REGEX", sorted(run.name for run in named))
rows = runs.histories(keys=["acc"])
print("HISTORIES", len(rows), sorted({row["run_id"] for row in rows}) == sorted(run.id for run in runs))

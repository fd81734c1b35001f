"""W&B's artifacts walkthrough: a dataset produced by one run, consumed by the next, which logs and
links a model; then a third run downloads the model."""

import os

import wandb

os.makedirs("data", exist_ok=True)
for split in ("train", "test"):
    with open(os.path.join("data", f"{split}.csv"), "w") as handle:
        handle.write("x,y\n1,2\n")

with wandb.init(project="corpus-artifacts", job_type="upload-dataset") as run:
    dataset = wandb.Artifact("mnist-small", type="dataset", description="two splits", metadata={"rows": 1})
    dataset.add_dir("data")
    run.log_artifact(dataset, aliases=["raw"])

with wandb.init(project="corpus-artifacts", job_type="train") as run:
    used = run.use_artifact("mnist-small:latest")
    folder = used.download()
    assert sorted(os.listdir(folder)) == ["test.csv", "train.csv"]
    with open("model.pt", "w") as handle:
        handle.write("weights")
    run.log_model(path="model.pt", name="mnist-cnn", aliases=["best"])
    run.link_model(path="model.pt", registered_model_name="mnist-classifier", aliases=["staging"])
    wandb.log_artifact("model.pt", name="raw-weights", type="model")

with wandb.init(project="corpus-artifacts", job_type="evaluate") as run:
    path = run.use_model("mnist-cnn:best")
    with open(path) as handle:
        print("MODEL", handle.read())

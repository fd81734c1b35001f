"""Tables (columns + data, add_data) and histograms (from a sequence, from np_histogram-style pairs)."""

import wandb

run = wandb.init(project="corpus-tables")
table = wandb.Table(columns=["id", "prediction", "truth"])
for i in range(4):
    table.add_data(i, i % 2, 1)
run.log({"predictions": table})
run.log({"scores": wandb.Histogram([0.1, 0.2, 0.2, 0.9, 0.95])})
run.log({"hist_from_counts": wandb.Histogram(np_histogram=([1, 2, 3], [0.0, 1.0, 2.0, 3.0]))})
run.log({"summary_table": wandb.Table(data=[["a", 1], ["b", 2]], columns=["name", "value"])})
run.finish()

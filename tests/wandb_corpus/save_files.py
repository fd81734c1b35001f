"""run.save as W&B's functional tests use it: globs with base_path, files added later not picked up,
policy "end", and a file written straight into the run's files."""

import os
import tempfile

import wandb


def write_file(path, text="data"):
    with open(path, "w") as handle:
        handle.write(text)


with tempfile.TemporaryDirectory() as tmpdir:
    os.mkdir(os.path.join(tmpdir, "newdir"))
    write_file(os.path.join(tmpdir, "newdir", "newfile1.txt"))
    write_file(os.path.join(tmpdir, "newdir", "newfile2.csv"))
    with wandb.init(project="corpus-save", config={"id": "save_glob"}) as run:
        run.save(os.path.join(tmpdir, "newdir", "*.txt"), base_path=tmpdir)
        write_file(os.path.join(tmpdir, "newdir", "newfile3.txt"))  # after the glob: not saved

        write_file("summary.json", '{"state": "training"}')
        wandb.save("summary.json", policy="end")
        write_file("summary.json", '{"state": "done"}')

        write_file("metrics.log", "epoch 0\n")
        wandb.save("metrics.log", policy="live")
        write_file("metrics.log", "epoch 0\nepoch 1\n")

        write_file(os.path.join(run.dir, "model.h5"), "weights")
        wandb.save(os.path.join(run.dir, "model.h5"), policy="now")

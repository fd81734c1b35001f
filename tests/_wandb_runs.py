"""Real W&B offline runs for the migration tests, made by the wandb package in subprocesses.

Each script writes, beside its runs, ``expected-<id>.json``: what it logged (rows with their steps,
and the wall-clock window around each ``log`` call) so tests compare imports point by point
against what was really logged, not against our own reading of the file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["MAIN_RUN", "RESUMED_RUN", "expected", "make_runs", "wandb_env", "wandb_files"]

MAIN_RUN = r'''
import json, math, os, struct, sys, time, wave
import numpy as np
from PIL import Image as PILImage
import wandb

out = sys.argv[1]
with wave.open(os.path.join(out, "tone.wav"), "wb") as handle:
    handle.setnchannels(1); handle.setsampwidth(2); handle.setframerate(8000)
    handle.writeframes(b"".join(struct.pack("<h", (i * 37) % 2000) for i in range(800)))
frames = [PILImage.fromarray(np.full((8, 8, 3), i * 60, dtype=np.uint8)) for i in range(3)]
frames[0].save(os.path.join(out, "clip.gif"), save_all=True, append_images=frames[1:], duration=250, loop=0)
with open(os.path.join(out, "weights.bin"), "wb") as handle:
    handle.write(bytes(range(256)) * 4)

run = wandb.init(project="mig", id="main0001", name="main-run", config={"lr": 3e-4, "optim": {"name": "adam",
                 "betas": [0.9, 0.999], "sched": {"kind": "cosine", "warmup": 100}}, "seed": 7},
                 tags=["phase-1", "wandb"], notes="imported notes", group="sweep-a", job_type="train")
run.define_metric("epoch")
run.define_metric("val/*", step_metric="epoch")
run.define_metric("train/loss", summary="min")
rows = []
def log(data, step=None):
    before = time.time()
    run.log(data, step=step)
    rows.append({"step": step, "data": {k: v for k, v in data.items() if isinstance(v, (int, float))},
                 "before": before, "after": time.time()})
for step in [0, 1, 2, 5, 9, 10, 50, 51, 400]:
    log({"train/loss": 1.0 / (step + 1), "train/lr": 3e-4 * step, "weird": [float("nan"), float("inf"),
        -float("inf"), 2.5][step % 4], "count": step * 3}, step=step)
run.summary["set_mid_run"] = 17  # an explicit summary value between two rows
for epoch in range(3):
    log({"epoch": epoch, "val/acc": 0.5 + epoch / 10}, step=401 + epoch)
print("console line one")
print("console line two", file=sys.stderr)
pixels = (np.arange(4 * 5 * 3) % 255).astype(np.uint8).reshape(4, 5, 3)
table = wandb.Table(columns=["a", "b", "c"], data=[[1, "x", 0.5], [2, "y", None], [3, "z", 1.5]])
log({"sample": wandb.Image(pixels, caption="first"), "preds": table,
     "weights_hist": wandb.Histogram(np_histogram=([3, 0, 5], [0.0, 1.0, 2.0, 4.0])),
     "tone": wandb.Audio(os.path.join(out, "tone.wav"), caption="a tone"),
     "clip": wandb.Video(os.path.join(out, "clip.gif"), caption="frames")}, step=410)
chart_table = wandb.Table(columns=["x", "y"], data=[[1, 1], [2, 4], [3, 9]])
log({"squares": wandb.plot.line(chart_table, "x", "y", title="Squares")}, step=411)
run.summary["best_acc"] = 0.93
run.summary["note"] = {"text": "done", "n": 3}
artifact = wandb.Artifact("weights", type="model", description="the weights", metadata={"k": 1})
artifact.add_file(os.path.join(out, "weights.bin"))
run.log_artifact(artifact, aliases=["best"])
with open(os.path.join(out, "expected-main0001.json"), "w") as handle:
    json.dump({"rows": rows, "config": dict(run.config)}, handle)
run.finish()
'''

FAILED_RUN = r'''
import json, sys, time
import wandb
run = wandb.init(project="mig", id="fail0001")
rows = []
for step in range(5):
    before = time.time()
    run.log({"x": step * 1.5}, step=step * 2)
    rows.append({"step": step * 2, "data": {"x": step * 1.5}, "before": before, "after": time.time()})
with open(sys.argv[1] + "/expected-fail0001.json", "w") as handle:
    json.dump({"rows": rows}, handle)
raise RuntimeError("training diverged")
'''

CRASHED_RUN = r'''
import os, signal, sys, time
import wandb
run = wandb.init(project="mig", id="crash001")
for step in range(3000):  # more than one 32 KiB block: wandb-core writes whole blocks until it is told to flush
    run.log({"y": step}, step=step)
time.sleep(2)  # let wandb-core write the blocks it holds
os.kill(os.getpid(), signal.SIGKILL)
'''

LONG_RUN = r'''
import sys
import wandb
run = wandb.init(project="mig", id="long0001", config={"blob": "x" * 100000})
for step in range(3000):
    run.log({"a": step * 0.5, "b": -step}, step=step)
run.finish()
'''


RESUMED_RUN = r'''
import time
import wandb
run = wandb.init(project="mig", id="resum001", resume="allow")
for step in range(3):
    run.log({"a": step * 10}, step=step)
run.alert(title="careful", text="loss is high")
run.finish()
time.sleep(1.1)  # W&B names the folder by the second: a resume within the same second reuses it
run = wandb.init(project="mig", id="resum001", resume="allow", tags=["second-part"])
for step in range(3, 6):
    run.log({"a": step * 10}, step=step)
run.finish()
'''


def wandb_env(folder: Path) -> dict[str, str]:
    """The environment of a W&B offline run writing only under ``folder``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_MODE="offline", WANDB_DIR=str(folder), WANDB_SILENT="true", WANDB_CACHE_DIR=str(folder / "cache"),
               WANDB_DATA_DIR=str(folder / "data"), WANDB_CONFIG_DIR=str(folder / "config"),
               WANDB_ARTIFACT_DIR=str(folder / "artifacts"), WANDB_DISABLE_GIT="true")
    return env


def make_runs(folder: Path, *scripts: str) -> Path:
    """Run each script in its own process (a failing or killed one too); returns the ``wandb`` folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for script in scripts:
        subprocess.run([sys.executable, "-c", script, str(folder)], env=wandb_env(folder), cwd=folder,
                       capture_output=True, timeout=180, check=False)
    return folder / "wandb"


def wandb_files(wandb_dir: Path, run_id: str) -> list[Path]:
    return sorted(p for p in wandb_dir.glob(f"*-{run_id}/run-{run_id}.wandb") if "latest-run" not in str(p))


def expected(folder: Path, run_id: str) -> dict[str, object]:
    result: dict[str, object] = json.loads((folder / f"expected-{run_id}.json").read_text())  # NaN, Infinity
    return result

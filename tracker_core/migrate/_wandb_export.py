"""``tracker export --to wandb``: the runs of a project as W&B offline run folders, for ``wandb sync``.

Each run is written by the wandb package in its own process (``_wandb_writer``), so one run's failure
or wandb's process-wide state never touches the others. Exporting again replaces a run's folder
(W&B names folders by the time of writing, so the old ``*-<id>`` folder is removed first).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence

import orjson

from tracker_core._errors import TrackerError
from tracker_core.migrate._fidelity import Fidelity
from tracker_core.migrate._wandb_proto import wandb_records

__all__ = ["export_wandb"]

_RUN_TIMEOUT = 3600.0  # seconds for one run's writer process


def export_wandb(root: str, project: str, out: str, run_ids: Sequence[str] | None = None,
                 progress: Callable[[str], None] | None = None) -> Fidelity:
    """Write the runs of ``project`` (or only ``run_ids``) under ``out/wandb/``; returns the fidelity report.

    A run whose writer fails is named in the report's errors; the others are still written.

    Raises:
        WandbMissing: wandb is not installed.
        TrackerError: the project has no runs.
    """
    wandb_records("tracker export --to wandb")
    from tracker_core.api import Api

    ids = list(run_ids) if run_ids else [run.id for run in Api(root).runs(project)]
    if not ids:
        raise TrackerError(f"project {project!r} has no runs in {root}\nHint: check the name with `tracker runs`")
    say = progress or (lambda text: print(text, file=sys.stderr))
    fidelity = Fidelity("tracker", "W&B")
    os.makedirs(out, exist_ok=True)
    for number, run_id in enumerate(ids, 1):
        for old in glob.glob(os.path.join(glob.escape(out), "wandb", f"*-{glob.escape(run_id)}")):
            if not os.path.islink(old):
                shutil.rmtree(old)
        command = [sys.executable, "-m", "tracker_core.migrate._wandb_writer", root, project, run_id, out]
        env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_") or k in _KEPT}
        env.update(WANDB_MODE="offline", WANDB_SILENT="true")
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=_RUN_TIMEOUT, env=env,
                                  check=False)
        except subprocess.TimeoutExpired:
            fidelity.error(f"run {project}/{run_id}", f"the W&B writer took more than {_RUN_TIMEOUT:.0f} s; stopped")
            continue
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
            fidelity.error(f"run {project}/{run_id}", f"the W&B writer failed: {reason}")
            say(f"[{number}/{len(ids)}] {project}/{run_id}: failed ({reason})")
            continue
        report = orjson.loads(lines[-1])
        fidelity.moved.update(report["moved"])
        for kind, reason, count in report["lost"]:
            fidelity.drop(kind, reason, count)
        say(f"[{number}/{len(ids)}] {project}/{run_id} -> {out}/wandb: {report['moved'].get('points', 0):,} points")
    return fidelity


_KEPT = ("WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR", "WANDB_ARTIFACT_DIR")  # where wandb keeps files

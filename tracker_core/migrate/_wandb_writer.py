"""One local run written as a W&B offline run folder by the wandb package itself (run in its own process).

``python -m tracker_core.migrate._wandb_writer ROOT PROJECT RUN_ID OUT`` writes ``OUT/wandb/offline-run-*-<id>/``
with ``wandb.init(mode="offline", id=<our id>)``: config, define_metric, every row at its step with its
``_timestamp``, media as W&B media, the summary values set explicitly, files (console included),
logged artifacts, and the exit code. W&B's writer sets the start time and ``_runtime`` itself and
samples no system metrics here (its sampler is off, so the export adds none of its own); what cannot
be carried is counted. The last line on standard output is the fidelity report as JSON.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

import orjson

from tracker_core._encoding import MediaRef
from tracker_core._step import MetricDefinition
from tracker_core.migrate._fidelity import Fidelity
from tracker_core.store._log import parse_records, read_log

__all__ = ["write_run"]

_W_AND_B_OWN = ("_step", "_runtime")  # W&B writes these itself
_EXIT_CODES = {"finished": 0, "failed": 1, "killed": 255, "stopped": 0, "crashed": 1, "running": 0}


def _medium(wandb: Any, value: MediaRef, fidelity: Fidelity, key: str) -> Any:
    """The W&B object for one of our media, or None (counted) for a kind W&B's writer cannot take."""
    kind, fields = value.kind, value.fields
    caption = fields.get("caption")
    if kind == "image":
        if fields.get("masks") or fields.get("boxes"):
            fidelity.drop("media parts", "image masks and boxes are not exported (the image is)")
        return wandb.Image(value.path, caption=caption)
    if kind == "table":
        return wandb.Table(columns=value.columns, data=value.rows())
    if kind == "histogram":
        return wandb.Histogram(np_histogram=(fields["values"], fields["bins"]))
    if kind == "audio":
        return wandb.Audio(value.path, caption=caption)
    if kind == "video":
        return wandb.Video(value.path, caption=caption, format=fields.get("format") or None)
    if kind == "plot":
        document = orjson.loads(value.read_bytes())
        rows = document.get("data") or []
        columns = list(dict.fromkeys(k for row in rows for k in row))
        fidelity.drop("plots", "a Vega-Lite plot becomes a W&B table of its data (W&B's writer takes no spec)")
        return wandb.Table(columns=columns, data=[[row.get(c) for c in columns] for row in rows])
    if kind == "list":
        items = [_medium(wandb, item, fidelity, key) for item in value.items]
        return [item for item in items if item is not None] or None
    fidelity.drop("media", f"our {kind} has no W&B counterpart")
    return None


def write_run(root: str, project: str, run_id: str, out: str) -> Fidelity:
    """Write the run ``project/run_id`` of the store at ``root`` under ``out`` (see the module docstring).

    Raises:
        WandbMissing: wandb is not installed.
        RunNotFoundError: no such run.
    """
    from tracker_core.migrate._wandb_proto import wandb_records

    wandb_records("tracker export --to wandb")
    import wandb

    from tracker_core.api import Api
    from tracker_core.store._index import replay

    fidelity = Fidelity("tracker", "W&B")
    api = Api(root)
    run = api.run(f"{project}/{run_id}")
    state, _ = replay(run._dir)
    settings = wandb.Settings(console="off", x_disable_stats=True, x_disable_meta=True, x_save_requirements=False,
                              silent=True)
    target = wandb.init(mode="offline", dir=out, id=run.id, project=project, name=run.name, tags=run.tags or None,
                        notes=run.notes, group=run.group, job_type=run.job_type, config=run.config,
                        settings=settings, reinit="create_new")
    fidelity.count("config values", len(run.config))
    for definition in _definitions(run._dir.events):
        options = list(definition.aggregates())  # 'best' resolved through the goal: W&B's writer takes no goal
        if definition.goal:
            fidelity.drop("metric goals", "W&B's define_metric takes no goal (its min/max summary is kept)")
        if definition.alert_after:
            fidelity.drop("metric alerts", "W&B has no alert_after")
        target.define_metric(definition.name, step_metric=definition.step_metric, summary=",".join(options) or None,
                             hidden=definition.hidden, step_sync=definition.step_sync)
    rows = run.history()
    for row in rows:
        data: dict[str, Any] = {}
        for key, value in row.items():
            if key in _W_AND_B_OWN:
                continue
            if isinstance(value, MediaRef):
                medium = _medium(wandb, value, fidelity, key)
                if medium is None:
                    continue
                data[key] = medium
                fidelity.count("media")
            else:
                data[key] = value
                if key != "_timestamp":
                    fidelity.count("points")
                    if type(value) is float and value.is_integer():
                        fidelity.drop("float type", "an integral float (2.0) reads back from W&B as an int "
                                      "(its JSON writes 2); the value is equal")
        target.log(data, step=row["_step"])
    for key, value in state.summary.overrides.items():
        target.summary[key] = value
        fidelity.count("summary values")
    _save_files(target, run.dir, fidelity)
    _log_artifacts(wandb, target, run, fidelity)
    if state.system:
        fidelity.drop("system samples", "W&B's writer records only the system metrics it samples itself",
                      len(state.system))
    if run.used_artifacts():
        fidelity.drop("artifact uses", "W&B's offline writer refuses use_artifact", len(run.used_artifacts()))
    if run.alerts():
        fidelity.drop("alerts", "not exported", len(run.alerts()))
    fidelity.drop("start time and _runtime", "W&B's writer sets its own start time and _runtime")
    status = run.state
    code = run.exit_code if run.exit_code is not None else _EXIT_CODES.get(status, 1)
    if status not in ("finished", "failed"):
        fidelity.drop("final state", f"W&B has no {status!r} state: the run ends with exit code {code}")
    target.finish(exit_code=code)
    fidelity.count("runs")
    return fidelity


def _definitions(events: str) -> list[MetricDefinition]:
    """The run's define_metric calls, in order (repeated ones as they were made: W&B merges them too)."""
    return [MetricDefinition.from_record(record["metric"]) for record in parse_records(read_log(events))
            if record.get("type") == "define_metric"]


def _save_files(target: Any, run_dir: str, fidelity: Fidelity) -> None:
    files = os.path.join(run_dir, "files")
    for folder, _, names in os.walk(files):
        for name in names:
            path = os.path.join(folder, name)
            target.save(path, base_path=files, policy="now")
            fidelity.count("files")


def _log_artifacts(wandb: Any, target: Any, run: Any, fidelity: Fidelity) -> None:
    for stored in run.logged_artifacts():
        folder = tempfile.mkdtemp(prefix="tracker-export-")
        stored.download(folder)
        artifact = wandb.Artifact(stored.name, type=stored.type)
        artifact.add_dir(folder)
        target.log_artifact(artifact, aliases=[a for a in stored.aliases if a != "latest"] or None)
        fidelity.count("artifacts")


def main(argv: list[str]) -> int:
    root, project, run_id, out = argv
    fidelity = write_run(root, project, run_id, out)
    sys.stdout.write("\n" + orjson.dumps({"moved": fidelity.moved, "lost": [[k, r, n] for (k, r), n in
                                                                            fidelity.lost.items()]}).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""What survives a move out of MLflow: ``tracker import mlflow`` beside ``mlflow-export-import`` (MLflow to MLflow).

Builds one SQLite MLflow store with the kinds of runs a team has (a finished parent with a finished and a failed
child, a killed and a still-running run; typed and dotted params, system and user tags, metrics at irregular
steps with NaN, +Inf and -Inf and a metric logged twice at one step, two artifact files), then moves it:

- ours: ``import_mlflow`` into a local store, twice (the second time must change nothing);
- ``mlflow-export-import`` (when ``--mei BIN`` names the folder of its commands, e.g. a separate venv's
  ``bin``): ``export-experiment`` then ``import-experiment`` into a real ``mlflow server`` (SQLite behind it;
  its 1.2.0 cannot import a second run straight into a SQLite store: it creates the experiment again), twice.

Each item of each run is compared with the source and counted as kept or not. MLflow's store keeps ±Inf as
±1.797e308, which our import reads back as ±Inf; both are compared as MLflow stores them.

Run:  python benchmarks/fidelity_mlflow.py [--mei /work/venv-mei/bin]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import table, use_offline_env

T0 = 1_780_000_000_000
ITEMS = ["runs", "metric points (value, step, ms)", "NaN / ±Inf points", "params (as text)", "user tags",
         "run name", "note", "user", "source name", "git commit", "status", "start time", "end time",
         "artifact files", "parent/child link", "runs after a 2nd run (no duplicates)"]


def make_source(uri: str, files: Path) -> None:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("source")
    parent = client.create_run(experiment_id, start_time=T0, run_name="parent", tags={
        "mlflow.source.name": "train.py", "mlflow.source.git.commit": "abc123", "mlflow.user": "ada",
        "mlflow.note.content": "the baseline", "team": "vision", "flagged": ""})
    pid = parent.info.run_id
    client.log_batch(pid, params=[Param("lr", "0.0003"), Param("epochs", "10"), Param("amp", "True"),
                                  Param("optimizer.name", "adam"), Param("optimizer.betas", "[0.9, 0.999]")])
    points = [Metric("loss", 1.0 / (i + 1), T0 + 1000 * i, i * i) for i in range(50)]
    points += [Metric("odd", math.nan, T0 + 5, 1), Metric("odd", math.inf, T0 + 6, 2),
               Metric("odd", -math.inf, T0 + 7, 3), Metric("twice", 1.0, T0 + 8, 0), Metric("twice", 2.0, T0 + 9, 0)]
    client.log_batch(pid, metrics=points)
    files.mkdir(parents=True, exist_ok=True)
    (files / "weights.bin").write_bytes(os.urandom(4096))
    (files / "notes.txt").write_text("hello")
    client.log_artifact(pid, str(files / "weights.bin"), artifact_path="model")
    client.log_artifact(pid, str(files / "notes.txt"))
    client.set_terminated(pid, "FINISHED", end_time=T0 + 60_000)
    for n, status in enumerate(["FINISHED", "FAILED"]):
        child = client.create_run(experiment_id, start_time=T0 + 100 + n, run_name=f"child-{n}",
                                  tags={"mlflow.parentRunId": pid})
        client.log_batch(child.info.run_id, metrics=[Metric("loss", 0.1 * n, T0 + 200, 0)])
        client.set_terminated(child.info.run_id, status, end_time=T0 + 5000)
    killed = client.create_run(experiment_id, start_time=T0 + 10, run_name="killed")
    client.set_terminated(killed.info.run_id, "KILLED", end_time=T0 + 20)
    running = client.create_run(experiment_id, start_time=T0 + 30, run_name="running")
    client.log_batch(running.info.run_id, metrics=[Metric("loss", 3.0, T0 + 40, 7)])


def _sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _files(folder: str) -> dict[str, str]:
    return {os.path.relpath(os.path.join(d, f), folder): _sha(os.path.join(d, f))
            for d, _, names in os.walk(folder) for f in names}


def mlflow_view(uri: str, experiment: str, tmp: str) -> dict[str, dict[str, Any]]:
    """Run name -> everything comparable, as an MLflow store holds it."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return {}
    runs = client.search_runs([found.experiment_id], max_results=1000)
    names = {run.info.run_id: run.info.run_name for run in runs}
    view: dict[str, dict[str, Any]] = {}
    for run in runs:
        tags = run.data.tags
        folder = tempfile.mkdtemp(dir=tmp)
        artifacts = _files(client.download_artifacts(run.info.run_id, "", folder)) if client.list_artifacts(
            run.info.run_id) else {}
        view.setdefault(run.info.run_name, {
            "points": {(k, m.step, m.timestamp, repr(float(m.value))) for k in run.data.metrics
                       for m in client.get_metric_history(run.info.run_id, k)},
            "params": dict(run.data.params), "user tags": {k: v for k, v in tags.items() if not k.startswith("mlflow.")
                                                          and not k.startswith("mlflow_exim")},
            "note": tags.get("mlflow.note.content"), "user": tags.get("mlflow.user"),
            "source name": tags.get("mlflow.source.name"), "git commit": tags.get("mlflow.source.git.commit"),
            "status": run.info.status, "start time": run.info.start_time,
            "end time": run.info.end_time if run.info.status != "RUNNING" else None, "artifacts": artifacts,
            "parent": names.get(tags.get("mlflow.parentRunId", "")), "count": 0})
        view[run.info.run_name]["count"] += 1
    return view


def our_view(root: str, project: str) -> dict[str, dict[str, Any]]:
    """Run name -> the same items, as the local store holds them after ``tracker import mlflow``."""
    from tracker_core import Api
    from tracker_core._encoding import decode_row
    from tracker_core.migrate import flatten_config
    from tracker_core.store._log import parse_records, read_log

    states = {"finished": "FINISHED", "failed": "FAILED", "killed": "KILLED", "running": "RUNNING"}
    runs = list(Api(root).runs(project))
    names = {run.id: run.name for run in runs}
    view: dict[str, dict[str, Any]] = {}
    for run in runs:
        points = set()
        for record in parse_records(read_log(os.path.join(run.dir, "events.jsonl"))):
            if record.get("type") == "log":
                for key, value in decode_row(record["data"]).items():
                    value = math.copysign(sys.float_info.max, value) if math.isinf(value) else value
                    points.add((key, record["step"], round(record["t"] * 1000), repr(float(value))))
        artifacts: dict[str, str] = {}
        for artifact in run.logged_artifacts():
            artifacts.update(_files(artifact.download()))
        provenance = run.provenance or {}
        started = round(run.created_at.timestamp() * 1000) if run.created_at else None
        view.setdefault(run.name, {
            "points": points, "params": {k: str(v) for k, v in flatten_config(run.config)},
            "user tags": dict((t.partition("=")[0], t.partition("=")[2]) for t in run.tags),
            "note": run.notes, "user": run._meta.get("user"), "source name": provenance.get("program"),
            "git commit": (provenance.get("git") or {}).get("commit"), "status": states.get(run.status, run.status),
            "start time": started, "end time": round(started + run.duration * 1000) if started and run.duration
            is not None and run.status != "running" else None, "artifacts": artifacts,
            "parent": names.get(run.group) if run.group and run.group != run.id else None, "count": 0})
        view[run.name]["count"] += 1
    return view


def compare(source: dict[str, dict[str, Any]], moved: dict[str, dict[str, Any]],
            after_again: dict[str, dict[str, Any]]) -> dict[str, str]:
    kept: dict[str, list[int]] = {item: [0, 0] for item in ITEMS}

    def tally(item: str, ok: int, total: int) -> None:
        kept[item][0] += ok
        kept[item][1] += total

    tally("runs", len(set(source) & set(moved)), len(source))
    for name, want in source.items():
        got = moved.get(name, {})
        special = {p for p in want["points"] if p[3] in ("nan", repr(sys.float_info.max), repr(-sys.float_info.max))}
        have = got.get("points", set())
        tally("metric points (value, step, ms)", len(want["points"] & have), len(want["points"]))
        tally("NaN / ±Inf points", len(special & have), len(special))
        params = got.get("params", {})
        tally("params (as text)", sum(params.get(k) == v for k, v in want["params"].items()), len(want["params"]))
        tags = got.get("user tags", {})
        tally("user tags", sum(tags.get(k) == v for k, v in want["user tags"].items()), len(want["user tags"]))
        tally("run name", int(name in moved), 1)
        for item in ("note", "user", "source name", "git commit", "status", "start time", "end time", "parent"):
            if want[item] is not None:
                tally(item if item != "parent" else "parent/child link", int(got.get(item) == want[item]), 1)
        files = got.get("artifacts", {})
        tally("artifact files", sum(files.get(k) == v for k, v in want["artifacts"].items()), len(want["artifacts"]))
    tally("runs after a 2nd run (no duplicates)", sum(min(v["count"], 1) for v in after_again.values()),
          sum(v["count"] for v in after_again.values()))
    return {item: f"{ok}/{total}" for item, (ok, total) in kept.items()}


def run_mei(bin_dir: str, source_uri: str, target_uri: str, out: str) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": source_uri}
    subprocess.run([os.path.join(bin_dir, "export-experiment"), "--experiment", "source", "--output-dir", out],
                   env=env, check=True, capture_output=True, timeout=600)
    env["MLFLOW_TRACKING_URI"] = target_uri
    subprocess.run([os.path.join(bin_dir, "import-experiment"), "--experiment-name", "source", "--input-dir", out],
                   env=env, check=True, capture_output=True, timeout=600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mei", help="the folder of mlflow-export-import's commands (a separate venv's bin)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="fidelity-mlflow-")
    try:
        use_offline_env(tmp)
        os.chdir(tmp)
        from tracker_core.migrate import import_mlflow

        source_uri = f"sqlite:///{tmp}/source.db"
        make_source(source_uri, Path(tmp, "files"))
        source = mlflow_view(source_uri, "source", tmp)
        root = os.path.join(tmp, "ours")
        import_mlflow(source_uri, "source", root, progress=False)
        ours = our_view(root, "source")
        import_mlflow(source_uri, "source", root, progress=False)
        columns = {"tracker import mlflow": compare(source, ours, our_view(root, "source"))}
        if args.mei:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
            from tests._mlflow_stores import mlflow_server

            Path(tmp, "server").mkdir()
            server = mlflow_server(Path(tmp, "server"))
            target_uri = next(server)
            try:
                run_mei(args.mei, source_uri, target_uri, os.path.join(tmp, "mei-out"))
                moved = mlflow_view(target_uri, "source", tmp)
                run_mei(args.mei, source_uri, target_uri, os.path.join(tmp, "mei-out2"))
                columns["mlflow-export-import"] = compare(source, moved, mlflow_view(target_uri, "source", tmp))
            finally:
                server.close()
        print(table(["kept (of the source)", *columns], [[item, *(c[item] for c in columns.values())]
                                                         for item in ITEMS]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

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

A second table goes the other way and back: runs written with ``tracker_core`` (finished, failed and
crashed; nested config, a text value that looks like a number, history with NaN/±Inf, text and an image, a
summary-only value, a key MLflow refuses, tags, notes, group, a logged artifact) -> ``tracker export --to
mlflow`` -> ``tracker import mlflow``, twice (the second export must add nothing).

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


def write_ours(root: str, files: Path) -> None:
    import numpy as np

    from tracker_core import Artifact, Image, init

    config = {"lr": 3e-4, "optimizer": {"name": "adam", "betas": [0.9, 0.999]}, "amp": True, "seed": "5"}
    for name, end in (("finished", 0), ("failed", 1), ("crashed", None)):
        run = init(project="ours", dir=root, name=name, config=config, tags=["phase-1", "team=vision"],
                   notes="a note", group="sweep", console="off")
        for step in (0, 3, 7, 20):
            run.log({"loss": 1.0 / (step + 1), "acc (%)": step * 5.0, "epoch": step // 7}, step=step)
        run.log({"odd": math.nan}, step=21)
        run.log({"odd": math.inf, "comment": "text"}, step=22)
        run.log({"sample": Image(np.zeros((4, 4, 3), dtype=np.uint8))}, step=23)
        run.summary["best"] = 0.1
        files.mkdir(parents=True, exist_ok=True)
        (files / "weights.bin").write_bytes(os.urandom(1024))
        artifact = Artifact(f"model-{name}", "model")
        artifact.add_file(str(files / "weights.bin"))
        run.log_artifact(artifact)
        if end is None:  # the writer dies without a word: the run reads crashed
            code = f"import tracker_core, os; r = tracker_core.init(project='ours', dir={root!r}, id={run.id!r}, " \
                   "resume='must', console='off'); os._exit(1)"
            run.detach()
            subprocess.run([sys.executable, "-c", code], check=False, timeout=120)
        else:
            run.finish(exit_code=end)


def export_table(tmp: str) -> list[list[str]]:
    """ours -> MLflow -> ours, item by item."""
    from tracker_core import Api
    from tracker_core.migrate import export_mlflow, import_mlflow

    root, back = os.path.join(tmp, "ours-src"), os.path.join(tmp, "ours-back")
    write_ours(root, Path(tmp, "files-ours"))
    uri = f"sqlite:///{tmp}/export.db"
    export_mlflow(Api(root), "ours", uri, progress=False)
    again = export_mlflow(Api(root), "ours", uri, progress=False)
    import_mlflow(uri, "ours", back, progress=False)
    source = {run.name: run for run in Api(root).runs("ours")}
    moved = {run.name: run for run in Api(back).runs("ours")}
    counts: dict[str, list[int]] = {}

    def tally(item: str, ok: bool | int, total: int = 1) -> None:
        counts.setdefault(item, [0, 0])
        counts[item][0] += int(ok)
        counts[item][1] += total

    def cells(run: Any) -> dict[tuple[str, int], Any]:
        return {(k, row["_step"]): (round(row["_timestamp"] * 1000), v) for row in run.history() for k, v in row.items()
                if k not in ("_step", "_timestamp")}

    tally("runs", len(set(source) & set(moved)), len(source))
    for name, want in source.items():
        got = moved.get(name)
        if got is None:
            continue
        have, mine = cells(got), cells(want)
        for (key, step), (stamp, value) in mine.items():
            kind = ("NaN / ±Inf points" if isinstance(value, float) and not math.isfinite(value) else
                    "numeric points (value, step, ms)" if isinstance(value, (int, float)) else
                    "text points" if isinstance(value, str) else "media")
            found = have.get((key, step))
            same = found is not None and found[0] == stamp and (repr(float(found[1])) == repr(float(value))
                                                                if kind.endswith("points)") or kind.startswith("NaN")
                                                                else found[1] == value)
            tally(kind, same)
            if key == "acc (%)":
                tally("keys MLflow refuses (restored)", same)
        flat_want, flat_got = dict(_flat(want.config)), dict(_flat(got.config))
        for key, value in flat_want.items():
            tally("config values (value and type)", flat_got.get(key) == value and type(flat_got.get(key)) is
                  type(value))
        tally("summary-only values", got.summary.get("best") == want.summary.get("best"))
        tally("tags", sorted(got.tags) == sorted(want.tags))
        tally("notes", got.notes == want.notes)
        tally("group", got.group == want.group)
        tally("state", got.status == want.status)
        assert want.created_at is not None and got.created_at is not None
        tally("start time (ms)", round(got.created_at.timestamp() * 1000) == round(want.created_at.timestamp() * 1000))
        if want.duration is not None and want.status not in ("crashed", "running"):
            tally("end time (ms)", abs((got.duration or 0) - want.duration) < 0.002)
        want_files = {f["path"]: f["sha256"] for a in want.logged_artifacts() for f in a.files()}
        got_files = {os.path.basename(f["path"]): f["sha256"] for a in got.logged_artifacts() for f in a.files()}
        tally("artifact files", sum(got_files.get(p) == h for p, h in want_files.items()), len(want_files))
    tally("runs unchanged on a 2nd export (no duplicates)", again.moved["runs unchanged"], len(source))
    return [[item, f"{ok}/{total}"] for item, (ok, total) in counts.items()]


def _flat(config: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out += _flat(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


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
        print(table(["MLflow -> elsewhere: kept (of the source)", *columns],
                    [[item, *(c[item] for c in columns.values())] for item in ITEMS]))
        print()
        print(table(["ours -> MLflow -> ours: kept (of the source)", "tracker export/import"], export_table(tmp)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

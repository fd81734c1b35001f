"""``tracker import mlflow`` against real MLflow stores: a SQLite file, a folder store and a real ``mlflow server``."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._mlflow_stores import MlflowClient, Param, log_points, mlflow_server, our_points, source_points
from tracker_core import Api
from tracker_core._errors import TrackerError
from tracker_core.migrate import import_mlflow, parse_params

T0 = 1_780_000_000_000  # ms


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's SQLite store puts its default artifact root, ./mlruns, in the working folder: keep it in tmp."""
    monkeypatch.chdir(tmp_path)


def _make_experiment(client: MlflowClient, name: str, tmp: Path, many_points: int = 0) -> dict[str, str]:
    """Runs of every kind: finished parent with children, failed, killed, still running; irregular steps,
    NaN and ±Inf, typed and nested params, system tags, artifacts."""
    experiment_id = client.create_experiment(name)
    ids: dict[str, str] = {}
    parent = client.create_run(experiment_id, start_time=T0, run_name="parent",
                               tags={"mlflow.source.name": "train.py", "mlflow.source.git.commit": "abc123",
                                     "mlflow.user": "ada", "mlflow.note.content": "the baseline", "team": "vision",
                                     "flagged": ""})
    run_id = ids["parent"] = parent.info.run_id
    client.log_batch(run_id, params=[Param("lr", "0.0003"), Param("epochs", "10"), Param("use_amp", "True"),
                                     Param("optimizer.name", "adam"), Param("optimizer.betas", "[0.9, 0.999]"),
                                     Param("note", "1e-3"), Param("nothing", "None")])
    points = [("loss", 1.0 / (i + 1), T0 + 1000 * i, i * i) for i in range(50)]  # irregular steps
    points += [("val/acc", 0.5 + i / 100, T0 + 1000 * i + 7, i * i) for i in range(0, 50, 5)]
    points += [("weird", math.nan, T0 + 5, 1), ("weird", math.inf, T0 + 6, 2), ("weird", -math.inf, T0 + 7, 3)]
    points += [("big", float(i), T0 + i, i) for i in range(many_points)]
    log_points(client, run_id, points)
    (tmp / "model").mkdir(exist_ok=True)
    (tmp / "model" / "weights.bin").write_bytes(os.urandom(2048))
    (tmp / "notes.txt").write_text("hello")
    client.log_artifacts(run_id, str(tmp / "model"), artifact_path="model")
    client.log_artifact(run_id, str(tmp / "notes.txt"))
    client.set_terminated(run_id, "FINISHED", end_time=T0 + 60_000)
    for n, status in enumerate(["FINISHED", "FAILED"]):
        child = client.create_run(experiment_id, start_time=T0 + 100 + n, run_name=f"child-{n}",
                                  tags={"mlflow.parentRunId": run_id})
        ids[f"child-{n}"] = child.info.run_id
        log_points(client, child.info.run_id, [("loss", 0.1 * n, T0 + 200, 0), ("loss", 0.2, T0 + 300, 0)])
        client.set_terminated(child.info.run_id, status, end_time=T0 + 5000)
    killed = client.create_run(experiment_id, start_time=T0 + 10, run_name="killed")
    ids["killed"] = killed.info.run_id
    client.set_terminated(killed.info.run_id, "KILLED", end_time=T0 + 20)
    running = client.create_run(experiment_id, start_time=T0 + 30, run_name="running")
    ids["running"] = running.info.run_id
    log_points(client, running.info.run_id, [("loss", 3.0, T0 + 40, 7)])
    return ids


def _check_imported(client: MlflowClient, root: str, project: str, ids: dict[str, str]) -> None:
    """Every run, point, param, tag, state, time and artifact as MLflow has it."""
    api = Api(root)
    runs = {run.id: run for run in api.runs(project)}
    assert set(runs) == set(ids.values())
    states = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "killed", "RUNNING": "running"}
    for run_id, run in runs.items():
        source = client.get_run(run_id)
        assert our_points(run.dir) == source_points(client, run_id), run.name  # point by point
        assert run.status == states[source.info.status]
        assert run.name == source.info.run_name
        assert run.created_at is not None and run.created_at.timestamp() == source.info.start_time / 1000
        if source.info.end_time and run.status != "running":
            assert run.duration == pytest.approx((source.info.end_time - source.info.start_time) / 1000)
        assert run.provenance is not None and run.provenance["mlflow"]["params"] == source.data.params
        assert run.provenance["mlflow"]["tags"] == source.data.tags
    parent = runs[ids["parent"]]
    assert parent.config == {"lr": 0.0003, "epochs": 10, "use_amp": True, "note": "1e-3", "nothing": None,
                             "optimizer": {"name": "adam", "betas": [0.9, 0.999]}}
    assert parent.notes == "the baseline" and sorted(parent.tags) == ["flagged", "team=vision"]
    assert parent.provenance is not None and parent.provenance["git"] == {"commit": "abc123"}
    assert parent.provenance["program"] == "train.py"
    assert parent.summary["loss"] == 1.0 / 50 and math.isnan(parent.summary["weird"]) is False
    assert parent.summary["weird"] == -math.inf  # the last step's value, as MLflow's latest
    assert {runs[ids[n]].group for n in ("parent", "child-0", "child-1")} == {ids["parent"]}
    assert runs[ids["killed"]].group is None
    history = parent.history()
    assert [row["_step"] for row in history if "loss" in row] == [i * i for i in range(50)]
    weird = {row["_step"]: row["weird"] for row in history if "weird" in row}
    assert math.isnan(weird[1]) and weird[2] == math.inf and weird[3] == -math.inf
    artifacts = parent.logged_artifacts()
    assert [a.name for a in artifacts] == [f"mlflow-{ids['parent']}"]
    folder = artifacts[0].download()
    assert Path(folder, "notes.txt").read_text() == "hello"
    assert Path(folder, "model", "weights.bin").read_bytes() == (Path(root).parent / "src" / "model" /
                                                                  "weights.bin").read_bytes()


@pytest.fixture
def sqlite_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, MlflowClient, dict[str, str]]:
    monkeypatch.chdir(tmp_path)  # the SQLite store's default artifact root (./mlruns) is made absolute here
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    (tmp_path / "src").mkdir()
    ids = _make_experiment(client, "foundation_model_v2", tmp_path / "src")
    return uri, client, ids


def test_sqlite_store_imports_every_point_param_tag_state_and_artifact(
        sqlite_store: tuple[str, MlflowClient, dict[str, str]], tmp_path: Path) -> None:
    uri, client, ids = sqlite_store
    root = str(tmp_path / "runs")
    fidelity = import_mlflow(uri, "foundation_model_v2", root, progress=False)
    assert not fidelity.errors
    assert fidelity.moved["runs"] == 5
    assert fidelity.moved["points"] == sum(len(p) for i in ids.values() for p in source_points(client, i).values())
    assert fidelity.moved["artifacts"] == 1 and fidelity.moved["files"] == 2
    assert fidelity.lost[("points", "several values of a metric at one step (the log keeps each; history shows "
                          "the step's last)")] == 2
    _check_imported(client, root, "foundation_model_v2", ids)


def test_importing_again_changes_nothing_and_a_changed_run_is_updated_in_place(
        sqlite_store: tuple[str, MlflowClient, dict[str, str]], tmp_path: Path) -> None:
    uri, client, ids = sqlite_store
    root = str(tmp_path / "runs")
    import_mlflow(uri, "foundation_model_v2", root, progress=False)
    logs = {i: Path(root, "foundation_model_v2", i, "events.jsonl") for i in ids.values()}
    before = {i: (p.read_bytes(), p.stat().st_mtime_ns) for i, p in logs.items()}
    outcomes: dict[str, str] = {}
    again = import_mlflow(uri, "foundation_model_v2", root, progress=False, on_run=outcomes.__setitem__)
    assert set(outcomes.values()) == {"unchanged"} and again.moved["runs unchanged"] == 5
    assert {i: (p.read_bytes(), p.stat().st_mtime_ns) for i, p in logs.items()} == before
    refreshed = import_mlflow(uri, "foundation_model_v2", root, progress=False, refresh=True,
                              on_run=outcomes.__setitem__)
    assert refreshed.moved["runs"] == 5 and set(outcomes.values()) == {"unchanged"}  # read again, same bytes
    client.set_tag(ids["killed"], "reviewed", "yes")
    log_points(client, ids["running"], [("loss", 2.0, T0 + 50, 8)])
    import_mlflow(uri, "foundation_model_v2", root, progress=False, on_run=outcomes.__setitem__)
    assert outcomes[ids["killed"]] == "updated" and outcomes[ids["running"]] == "updated"
    assert outcomes[ids["parent"]] == "unchanged"
    assert len(Api(root).runs("foundation_model_v2")) == 5  # updated, never duplicated
    assert "reviewed=yes" in Api(root).run(f"foundation_model_v2/{ids['killed']}").tags
    _check_imported(client, root, "foundation_model_v2", ids)


def test_an_interrupted_import_continues_where_it_stopped(
        sqlite_store: tuple[str, MlflowClient, dict[str, str]], tmp_path: Path) -> None:
    uri, client, ids = sqlite_store
    root = str(tmp_path / "runs")
    done: list[str] = []

    def interrupt_after_two(run_id: str, outcome: str) -> None:
        done.append(run_id)
        if len(done) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_mlflow(uri, "foundation_model_v2", root, progress=False, on_run=interrupt_after_two)
    assert len(Api(root).runs("foundation_model_v2")) == 2
    # a process killed while writing a run leaves its staging log (and maybe an empty folder) behind
    torn = Path(root, "foundation_model_v2", ids["running"])
    torn.mkdir()
    (torn / "events.jsonl.importing").write_bytes(b'{"seq":1,"t":1.0,"type":"run"')
    assert len(Api(root).runs("foundation_model_v2")) == 2  # not a run yet
    outcomes: dict[str, str] = {}
    import_mlflow(uri, "foundation_model_v2", root, progress=False, on_run=outcomes.__setitem__)
    assert [outcomes[i] for i in done] == ["unchanged", "unchanged"]
    assert not list(Path(root).glob("*/*/events.jsonl.importing"))
    assert sorted(o for i, o in outcomes.items() if i not in done) == ["imported"] * 3
    _check_imported(client, root, "foundation_model_v2", ids)


def test_a_wrong_uri_or_experiment_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TrackerError, match="no SQLite file"):
        import_mlflow(f"sqlite:///{tmp_path / 'missing.db'}", "x", str(tmp_path / "runs"))
    assert not (tmp_path / "missing.db").exists()  # no empty store made as a side effect
    with pytest.raises(TrackerError, match="does not answer"):
        import_mlflow("http://127.0.0.1:9/", "x", str(tmp_path / "runs"))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).create_experiment("real one")
    with pytest.raises(TrackerError, match=r"(?s)no MLflow experiment 'other'.*real one"):
        import_mlflow(uri, "other", str(tmp_path / "runs"))


def test_half_written_runs_are_named_and_the_others_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder store whose writer died mid-line in a metrics file, and a SQLite run with a latest metric
    value but no history (its history rows lost)."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    folder = tmp_path / "mlruns"
    client = MlflowClient(tracking_uri=folder.as_uri())
    experiment_id = client.create_experiment("e")
    ids = []
    for n in range(3):
        run = client.create_run(experiment_id, start_time=T0 + n, run_name=f"r{n}")
        log_points(client, run.info.run_id, [("m", float(i), T0 + i, i) for i in range(5)])
        client.set_terminated(run.info.run_id, "FINISHED", end_time=T0 + 100)
        ids.append(run.info.run_id)
    with open(folder / experiment_id / ids[1] / "metrics" / "m", "a") as handle:
        handle.write("17800000")  # a torn line: the writer died here
    fidelity = import_mlflow(folder.as_uri(), "e", str(tmp_path / "runs"), progress=False)
    assert len(fidelity.errors) == 1 and fidelity.errors[0].startswith(f"run {ids[1]}: ")
    assert "malformed" in fidelity.errors[0]
    assert {r.id for r in Api(str(tmp_path / "runs")).runs("e")} == {ids[0], ids[2]}

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("s")
    good, bad = (client.create_run(experiment_id, start_time=T0 + n).info.run_id for n in range(2))
    for run_id in (good, bad):
        log_points(client, run_id, [("m", 1.0, T0, 0)])
    import sqlite3

    with sqlite3.connect(tmp_path / "mlflow.db") as db:
        db.execute("DELETE FROM metrics WHERE run_uuid = ?", (bad,))
    fidelity = import_mlflow(uri, "s", str(tmp_path / "runs2"), progress=False)
    assert fidelity.errors == [f"run {bad}: ValueError: metric 'm' has a latest value but no history: a "
                               "half-written run"]
    assert [r.id for r in Api(str(tmp_path / "runs2")).runs("s")] == [good]


def test_a_missing_extra_names_it() -> None:
    from tracker_core.migrate._optional import require

    with pytest.raises(TrackerError, match=r'(?s)no_such_package_xyz is not installed.*pip install "tracker\[mlflow'):
        require("no_such_package_xyz", "mlflow")


def test_params_become_values_only_where_str_gives_them_back() -> None:
    assert parse_params({"a": "1", "b": "1.50", "c": "true", "d": "[1, 'x']", "e": "{'k': 2}", "f": "0.1"}) == \
        {"a": 1, "b": "1.50", "c": "true", "d": [1, "x"], "e": {"k": 2}, "f": 0.1}
    assert parse_params({"a": "1", "a.b": "2"}) == {"a": 1, "a.b": 2}  # ambiguous: flat
    assert parse_params({"x.y.z": "False", "x.w": "nan"})["x"]["y"] == {"z": False}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "server").mkdir()
    yield from mlflow_server(tmp_path / "server")


def test_a_real_mlflow_server_through_the_cli(server: str, tmp_path: Path) -> None:
    """Over HTTP: the metric history is paged (more points than one page of 25,000), artifacts are proxied."""
    client = MlflowClient(tracking_uri=server)
    (tmp_path / "src").mkdir()
    ids = _make_experiment(client, "foundation_model_v2", tmp_path / "src", many_points=25_500)
    root = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(Path(__file__).resolve().parent.parent))}
    done = subprocess.run([sys.executable, "-m", "tracker_core.cli", "--dir", str(root), "import", "mlflow",
                           "--tracking-uri", server, "--experiment", "foundation_model_v2"],
                          capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "Fidelity: mlflow http://127.0.0.1" in done.stdout and "5/5 runs" in done.stderr
    assert len(source_points(client, ids["parent"])["big"]) == 25_500
    _check_imported(client, str(root), "foundation_model_v2", ids)


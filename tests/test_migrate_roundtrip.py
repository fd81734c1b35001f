"""W&B -> us -> MLflow -> us: a real W&B offline run imported, exported to a real MLflow SQLite store and
imported back into a fresh store, compared point by point with the W&B original. Whatever did not come
through must be named, by kind, in the fidelity reports of the three steps (nothing lost silently)."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("wandb")
pytest.importorskip("mlflow")

from _wandb_runs import MAIN_RUN, expected, make_runs, wandb_files

from tracker_core._encoding import MediaRef
from tracker_core.api import Api
from tracker_core.migrate import Fidelity, export_mlflow, import_mlflow, import_wandb, read_wandb_records


def _original_rows(path: Path) -> dict[int, dict[str, Any]]:
    """Step -> the row W&B wrote (every item, nested as W&B nests them, NaN and ±Inf as Python reads them), from the
    history records of the run's .wandb file as the wandb package's protobuf reads them."""
    from wandb.proto import wandb_internal_pb2 as pb

    rows: dict[int, dict[str, Any]] = {}
    reading = Fidelity("W&B", "test")
    for payload in read_wandb_records(str(path), reading):
        record = pb.Record()
        record.ParseFromString(payload)
        if record.WhichOneof("record_type") != "history":
            continue
        row: dict[str, Any] = {}
        for item in record.history.item:
            *parents, leaf = list(item.nested_key) or [item.key]
            node = row
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = json.loads(item.value_json)
        rows[int(row["_step"])] = row
    assert reading.errors == []
    return rows


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _kind(value: Any) -> str:
    """The fidelity kind under which a value MLflow cannot hold is reported."""
    return "media" if isinstance(value, dict) and "_type" in value else "points"


def test_wandb_to_us_to_mlflow_to_us_point_by_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # MLflow's SQLite store puts its default artifact root, ./mlruns, here
    made = tmp_path / "made"
    wandb_dir = make_runs(made, MAIN_RUN)
    (path,) = wandb_files(wandb_dir, "main0001")
    original = _original_rows(path)
    logged = expected(made, "main0001")
    assert sorted(original) == sorted(row["step"] for row in logged["rows"])  # type: ignore[attr-defined]

    first, back = tmp_path / "first", tmp_path / "back"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    reports = [import_wandb(str(wandb_dir), str(first), progress=lambda _: None),
               export_mlflow(Api(str(first)), "mig", uri, progress=False),
               import_mlflow(uri, "mig", str(back), progress=False)]
    for report in reports:
        assert report.errors == [], report.errors
    lost: Counter[str] = Counter()
    for report in reports:
        for (kind, _reason), n in report.lost.items():
            lost[kind] += n

    (run,) = Api(str(back)).runs("mig")
    history: dict[int, list[dict[str, Any]]] = {}
    for row in run.history():
        history.setdefault(row["_step"], []).append(row)

    # every item of every row: equal at its step and W&B's time (to the millisecond), or counted as lost
    missing: Counter[str] = Counter()
    integers = 0
    for step, row in original.items():
        stamp = round(row["_timestamp"] * 1000) / 1000
        for key, value in row.items():
            if key in ("_step", "_timestamp"):
                continue
            found = [r for r in history.get(step, []) if key in r]
            if isinstance(value, (int, float)) and not isinstance(value, bool) and found:
                assert len(found) == 1, (step, key, found)
                assert _equal(found[0][key], float(value)), (step, key, found[0][key], value)
                assert found[0]["_timestamp"] == stamp, (step, key, found[0]["_timestamp"], row["_timestamp"])
                integers += type(value) is int and type(found[0][key]) is float
            else:
                assert not found, (step, key, found)
                missing[_kind(value)] += 1
    assert missing["media"] == 6 and missing["points"] == 0, missing  # the media row's six; every number came
    for kind, n in missing.items():
        assert lost[kind] >= n, (kind, n, dict(lost))
    assert integers > 0 and reports[1].moved["int/bool points as floats"] == integers  # the same numbers, as floats
    assert set(history) == set(original)  # every step, and none invented (_runtime is in every row)
    for step, rows in history.items():
        for row in rows:
            assert set(row) - {"_step", "_timestamp"} <= set(original[step]), (step, row)

    # the config, identity and times
    config = logged["config"]
    assert isinstance(config, dict)
    assert run.config == config
    assert (run.name, sorted(run.tags), run.notes, run.group, run.job_type, run.state) == (
        "main-run", ["phase-1", "wandb"], "imported notes", "sweep-a", "train", "finished")
    ours = Api(str(first)).run("mig/main0001")
    assert ours.created_at is not None and run.created_at is not None
    assert run.created_at.timestamp() == round(ours.created_at.timestamp() * 1000) / 1000

    # the summary (as the first import read it from W&B): equal, or its kind named in a report
    defined = {d.name for d in ours.metric_definitions()}
    assert defined == {"epoch", "val/*", "train/loss"} and lost["metric definitions"] == len(defined)
    unequal: Counter[str] = Counter()
    for key, value in ours.summary.items():
        if not _equal(run.summary.get(key), value):
            unequal["media" if isinstance(value, MediaRef) else "metric definitions" if key in defined
                    else "summary values"] += 1
    assert unequal["summary values"] == 3, unequal  # set_mid_run, best_acc, note: set only in the summary
    for kind, n in unequal.items():
        assert lost[kind] >= n, (kind, n, dict(lost))

    # the artifact's and the console's bytes came through (as the files of MLflow's run); system metrics reported
    (artifact,) = run.logged_artifacts()
    folder = Path(artifact.download(str(tmp_path / "dl")))
    assert (folder / "artifacts" / "weights" / "weights.bin").read_bytes() == bytes(range(256)) * 4
    console = (folder / "files" / "output.log").read_text()  # W&B's console, as the saved files
    assert "console line one" in console and "console line two" in console
    assert lost["system metrics"] == len(ours.system_metrics()) > 0

"""`tracker export --to wandb`: our runs written as W&B offline run folders by the wandb package, read back
by `tracker import wandb`, and compared point by point (us -> W&B -> us)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

pytest.importorskip("wandb")

from _wandb_runs import wandb_files

import tracker_core as tracker
from tracker_core._encoding import MediaRef
from tracker_core.api import Api
from tracker_core.media import Histogram, Image, Plot, Table
from tracker_core.migrate import Fidelity, read_wandb_records


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI, with wandb's caches (its artifact staging among them) under the test's folder."""
    wandb_home = root.parent / "wandb_home"
    env = {**os.environ, **{name: str(wandb_home / name.lower()) for name in (
        "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR", "WANDB_ARTIFACT_DIR")}}
    return subprocess.run([sys.executable, "-m", "tracker_core.cli", "--dir", str(root), *args], env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, MediaRef) and a.kind == "list":
        return isinstance(b, MediaRef) and len(a.items) == len(b.items) and all(
            _same(x, y) for x, y in zip(a.items, b.items, strict=True))
    if isinstance(a, MediaRef) or isinstance(b, MediaRef):
        return isinstance(a, MediaRef) and isinstance(b, MediaRef) and a.kind == b.kind and (
            a.fields.get("sha256") == b.fields.get("sha256") if a.kind != "histogram" else a.fields == b.fields) and (
            a.fields.get("caption") == b.fields.get("caption"))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if type(a) is int and type(b) is float and b.is_integer():  # listed in the report ("float type")
        return a == b
    return bool(a == b) and type(a) is type(b)


def _our_runs(store: Path, tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\x00\x01" * 500)
    run = tracker.init(project="rt", name="first", config={"lr": 1e-3, "opt": {"name": "sgd", "momentum": 0.9}},
                       tags=["x", "y"], notes="round trip", group="g1", job_type="train")
    run.define_metric("epoch")
    run.define_metric("val/*", step_metric="epoch")
    run.define_metric("loss", summary="min")
    for step in (0, 3, 4, 10, 200):
        run.log({"loss": 2.0 / (step + 1), "odd": [math.nan, math.inf, -math.inf, 7][step % 4], "flag": step > 3,
                 "label": f"s{step}"}, step=step)
    for epoch in range(2):
        run.log({"epoch": epoch, "val/acc": 0.25 * (epoch + 1)}, step=201 + epoch)
    pixels = (np.arange(6 * 4 * 3) % 250).astype(np.uint8).reshape(6, 4, 3)
    run.log({"img": Image(pixels, caption="pix"), "tab": Table(columns=["k", "v"], data=[["a", 1], ["b", None]]),
             "pair": [Image(pixels, caption="one"), Image(255 - pixels, caption="two")],
             "hist": Histogram(np_histogram=([1, 4], [0.0, 0.5, 1.0])),
             "plot": Plot({"mark": "point", "encoding": {"x": {"field": "a"}}}, [{"a": 1}, {"a": 2}])}, step=300)
    run.summary["final_score"] = 0.75
    artifact = tracker.Artifact("weights", "model")
    artifact.add_file(str(weights))
    run.log_artifact(artifact, aliases=["prod"])
    run.finish()
    second = tracker.init(project="rt", name="second")
    second.log({"z": 1.5}, step=2)
    second.finish(exit_code=3)


def test_our_runs_survive_a_round_trip_through_wandb(store: Path, tmp_path: Path) -> None:
    _our_runs(store, tmp_path)
    out = tmp_path / "wandb_export"
    exported = _cli(store, "export", "--to", "wandb", "-p", "rt", "--out", str(out))
    assert exported.returncode == 0, exported.stderr + exported.stdout
    assert "plots" in exported.stdout and "float type" in exported.stdout
    source = {run.name: run for run in Api(str(store)).runs("rt")}

    # the folders are what wandb itself wrote: a header, CRC-checked chunks, an exit record
    for run in source.values():
        (path,) = wandb_files(out / "wandb", run.id)
        checked = Fidelity("W&B", "test")
        assert sum(1 for _ in read_wandb_records(str(path), checked)) > 5 and checked.errors == []

    back_root = tmp_path / "back"
    imported = _cli(back_root, "import", "wandb", str(out / "wandb"))
    assert imported.returncode == 0, imported.stderr + imported.stdout
    back = {run.name: run for run in Api(str(back_root)).runs("rt")}
    assert sorted(back) == ["first", "second"]
    for name, original in source.items():
        copy = back[name]
        assert copy.id == original.id
        assert (copy.config, copy.tags, copy.notes, copy.group, copy.job_type) == (
            original.config, original.tags, original.notes, original.group, original.job_type)
        assert (copy.state, copy.exit_code) == (original.state, original.exit_code)
        assert copy.system_metrics() == []  # the exporting process's own samples are not passed off as the run's
        rows, copied = original.history(), copy.history()
        assert [r["_step"] for r in rows] == [r["_step"] for r in copied]
        for row, got in zip(rows, copied, strict=True):
            assert got["_timestamp"] == row["_timestamp"]  # W&B's writer keeps the _timestamp it is given
            assert set(got) - {"_runtime"} == set(row), row["_step"]  # W&B adds its own _runtime
            for key, value in row.items():
                if key == "plot":  # listed in the report: the data comes back as a table
                    assert got[key].kind == "table" and got[key].rows() == [[1], [2]]
                    continue
                assert _same(got[key], value), (row["_step"], key, got[key], value)
    first = back["first"]
    assert first.summary["final_score"] == 0.75 and first.summary_metrics["loss"] == {"min": 2.0 / 201}
    assert [(r["epoch"], r["val/acc"]) for r in first.history(keys=["val/acc"], x_axis="epoch")] == [(0, 0.25),
                                                                                                     (1, 0.5)]
    (artifact,) = first.logged_artifacts()
    assert artifact.type == "model" and "prod" in artifact.aliases
    assert (Path(artifact.download(str(tmp_path / "dl"))) / "weights.bin").read_bytes() == b"\x00\x01" * 500

    # exporting again replaces the folders (one per run), never a second copy
    again = _cli(store, "export", "--to", "wandb", "-p", "rt", "--out", str(out))
    assert again.returncode == 0
    assert len([p for p in (out / "wandb").iterdir() if p.name.startswith("offline-run-")]) == 2


def test_export_needs_a_project_and_names_unknown_trackers(store: Path, tmp_path: Path) -> None:
    result = _cli(store, "export", "--to", "wandb")
    assert result.returncode == 2 and "tracker export --to wandb -p PROJECT" in result.stderr
    result = _cli(store, "export", "--to", "neptune", "-p", "x")
    assert result.returncode == 2 and "no exporter to 'neptune'" in result.stderr and "wandb" in result.stderr
    result = _cli(store, "export", "--to", "wandb", "-p", "nothing", "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "has no runs" in result.stderr
    report = orjson.loads(orjson.dumps(Fidelity("a", "b").to_dict()))
    assert report["errors"] == []

"""Reading runs back the way W&B scripts do: Api().runs with W&B's filters and order, state,
summary_metrics, scan_history, history(samples=), files()."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

import tracker_core
from tracker_core import Api, SettingsError, TrackerError

P = "wandb-readback"


def _run(name: str, lr: float, accuracies: list[float], tags: list[str], entity: str | None = "team",
         exit_code: int = 0, group: str | None = None) -> str:
    run = tracker_core.init(project=P, name=name, entity=entity, tags=tags, group=group,
                            config={"lr": lr, "optimizer": {"name": "adam" if lr < 1e-3 else "sgd"}})
    run.define_metric("val/loss", summary="min")
    for step, accuracy in enumerate(accuracies):
        run.log({"val/acc": accuracy, "val/loss": 1 - accuracy}, step=step)
    run.finish(exit_code=exit_code)
    return run.id


@pytest.fixture
def sweep() -> dict[str, str]:
    return {
        "base": _run("bert-base", 3e-4, [0.5, 0.91, 0.8], ["phase-1"]),
        "large": _run("bert-large", 5e-4, [0.6, 0.95], ["phase-1", "phase-2"]),
        "gpt": _run("gpt-small", 2e-3, [0.97], ["phase-2"], group="gpt"),
        "failed": _run("bert-failed", 1e-4, [0.99], ["phase-1"], exit_code=1),
        "other-team": _run("elsewhere", 1e-4, [0.1], [], entity="another-team"),
        "no-entity": _run("no-entity", 1e-2, [0.2], [], entity=None),
    }


def _names(runs: list[tracker_core.StoredRun]) -> set[str]:
    return {run.name for run in runs}


@pytest.mark.parametrize(("filters", "expected"), [
    ({"state": "finished", "config.lr": {"$lt": 1e-3}}, {"bert-base", "bert-large"}),
    ({"config.lr.value": 2e-3}, {"gpt-small"}),  # W&B wraps config values in {"value": ...}
    ({"config.optimizer.name": "sgd"}, {"gpt-small", "no-entity"}),
    ({"displayName": {"$regex": "^bert-(base|large)$"}}, {"bert-base", "bert-large"}),
    ({"summary_metrics.val/acc": {"$gt": 0.9}}, {"gpt-small", "bert-large", "bert-failed"}),  # the last value
    ({"summary_metrics.val/loss.min": {"$lt": 0.06}}, {"gpt-small", "bert-large", "bert-failed"}),  # {"min": v}
    ({"tags": {"$in": ["phase-2"]}}, {"bert-large", "gpt-small"}),
    ({"$and": [{"tags": "phase-1"}, {"state": {"$ne": "failed"}}]}, {"bert-base", "bert-large"}),
    ({"$or": [{"group": "gpt"}, {"state": "failed"}]}, {"gpt-small", "bert-failed"}),
    ({"$nor": [{"tags": "phase-1"}, {"tags": "phase-2"}]}, {"no-entity"}),
    ({"jobType": {"$exists": False}, "summary_metrics._step": 2}, {"bert-base"}),
    ({"config.lr": {"$not": {"$lt": 1e-3}}}, {"gpt-small", "no-entity"}),
    ({"group": {"$not": {"$eq": "gpt"}}}, {"bert-base", "bert-large", "bert-failed", "no-entity"}),  # no group: kept
    ({"displayName": {"$not": "^bert"}}, {"gpt-small", "no-entity"}),  # a negated regex, as MongoDB's $not: /re/
    ({"displayName": {"$regex": "^BERT-(BASE|LARGE)", "$options": "i"}}, {"bert-base", "bert-large"}),
    ({"tags": {"$nin": ["phase-1"]}}, {"gpt-small", "no-entity"}),
    ({"createdAt": {"$not": {"$lt": "2000-01-01"}}}, {"bert-base", "bert-large", "gpt-small", "bert-failed",
                                                       "no-entity"}),
])
def test_wandb_filters_select_exactly_the_matching_runs(sweep: dict[str, str], filters: dict,
                                                        expected: set[str]) -> None:
    assert _names(Api().runs(f"team/{P}", filters=filters)) == expected


def test_entity_in_the_path_leaves_out_other_teams_runs_only(sweep: dict[str, str]) -> None:
    assert "elsewhere" not in _names(Api().runs(f"team/{P}"))
    assert "no-entity" in _names(Api().runs(f"team/{P}"))
    assert _names(Api().runs(f"another-team/{P}")) == {"elsewhere", "no-entity"}
    assert len(Api().runs(P)) == 6


def test_created_at_filters_take_iso_dates_and_order_takes_wandb_fields(sweep: dict[str, str]) -> None:
    now = datetime.datetime.now(datetime.UTC)
    hour_ago = (now - datetime.timedelta(hours=1)).isoformat()
    assert len(Api().runs(P, filters={"createdAt": {"$gt": hour_ago}})) == 6
    assert Api().runs(P, filters={"createdAt": {"$gt": (now + datetime.timedelta(hours=1)).isoformat()}}) == []
    naive_utc = (now - datetime.timedelta(hours=1)).replace(tzinfo=None).isoformat()  # W&B's UTC without a zone
    assert len(Api().runs(P, filters={"createdAt": {"$gte": naive_utc}})) == 6
    with pytest.raises(SettingsError, match="ISO-8601"):
        Api().runs(P, filters={"createdAt": {"$gt": "yesterday"}})
    by_accuracy = Api().runs(f"team/{P}", order="-summary_metrics.val/acc")
    assert [run.name for run in by_accuracy] == ["bert-failed", "gpt-small", "bert-large", "bert-base",
                                                 "no-entity"]
    by_loss = Api().runs(f"team/{P}", order="+summary_metrics.val/loss.min")
    assert by_loss[0].name == "bert-failed" and by_loss[-1].name == "no-entity"
    assert [run.name for run in Api().runs(P, order="+created_at")] == [
        "bert-base", "bert-large", "gpt-small", "bert-failed", "elsewhere", "no-entity"]


def test_state_and_summary_metrics_read_as_wandb_gives_them(sweep: dict[str, str]) -> None:
    run = Api().run(f"team/{P}/{sweep['base']}")
    assert run.state == run.status == "finished" and run.display_name == "bert-base"
    assert Api().run(f"team/{P}/runs/{sweep['failed']}").state == "failed"
    assert run.summary["val/loss"] == pytest.approx(0.09)  # our shape: the one aggregate itself
    metrics = run.summary_metrics
    assert metrics["val/loss"] == {"min": pytest.approx(0.09)}  # W&B's shape
    assert metrics["val/acc"] == 0.8 and metrics["_step"] == 2
    assert metrics["_runtime"] == pytest.approx(run.duration, abs=0.05)
    assert metrics["_timestamp"] == pytest.approx(run.created_at.timestamp() + metrics["_runtime"], abs=0.05)


def test_scan_history_yields_rows_holding_every_key_within_the_step_range() -> None:
    run = tracker_core.init(project=P)
    for step in range(10):
        run.log({"loss": 10 - step, **({"acc": step / 10} if step % 3 == 0 else {})}, step=step)
    run.finish()
    stored = Api().run(run.path)
    scan = stored.scan_history(keys=["loss", "acc"])
    assert iter(scan) is scan  # an iterator, as W&B's
    assert list(scan) == [{"_step": s, "loss": 10 - s, "acc": s / 10} for s in (0, 3, 6, 9)]
    assert [row["_step"] for row in stored.scan_history(min_step=4, max_step=7)] == [4, 5, 6]
    assert {"_step", "_timestamp", "loss"} <= set(next(stored.scan_history()))
    assert [row["loss"] for row in stored.scan_history(["loss"], 2, 8)] == [2, 1]  # keys, page_size, min_step
    for bad in ({"keys": "loss"}, {"page_size": 0}, {"min_step": 1.5}):
        with pytest.raises(SettingsError, match="Hint:"):
            stored.scan_history(**bad)  # raised at the call, not at the first row


def test_history_is_full_unless_samples_is_given_then_evenly_spaced_with_first_and_last() -> None:
    run = tracker_core.init(project=P)
    for step in range(101):
        run.log({"loss": float(step)}, step=step)
    run.finish()
    stored = Api().run(run.path)
    assert len(stored.history()) == 101  # never sampled unless asked
    assert [row["_step"] for row in stored.history(samples=5)] == [0, 25, 50, 75, 100]
    assert [row["_step"] for row in stored.history(3, ["loss"])] == [0, 50, 100]  # W&B's positional order
    assert [row["_step"] for row in stored.history(samples=1)] == [100]
    assert len(stored.history(samples=500)) == 101
    assert stored.history(keys=["loss"], x_axis="loss")[-1]["loss"] == 100.0
    with pytest.raises(SettingsError, match="samples"):
        stored.history(samples=0)
    with pytest.raises(SettingsError, match="stream"):
        stored.history(stream="events")


def test_files_lists_saved_files_and_media_with_size_and_download(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    import numpy as np

    run = tracker_core.init(project=P)
    assert run.dir is not None
    os.makedirs(os.path.join(run.dir, "files"), exist_ok=True)
    with open(os.path.join(run.dir, "files", "notes.txt"), "w", encoding="utf-8") as file:
        file.write("eval on held-out set\n")
    run.log({"sample": tracker_core.Image(np.zeros((4, 4, 3), dtype=np.uint8))})
    run.finish()
    stored = Api().run(run.path)
    files = stored.files()
    names = [file.name for file in files]
    assert "notes.txt" in names and any(name.startswith("media/") and name.endswith(".png") for name in names)
    assert not any(name in ("run.json", "events.jsonl") for name in names)
    notes = stored.file("notes.txt")
    assert (notes.size, notes.mimetype) == (21, "text/plain")
    with notes.download(root=tmp_path / "out") as handle:
        assert handle.read() == "eval on held-out set\n"
    with pytest.raises(ValueError, match="already exists"):
        notes.download(root=tmp_path / "out")
    notes.download(root=tmp_path / "out", exist_ok=True).close()
    assert [file.name for file in stored.files(pattern="%.png")] == [n for n in names if n.endswith(".png")]
    assert [file.name for file in stored.files(names=["notes.txt"])] == ["notes.txt"]
    with pytest.raises(SettingsError, match="together"):
        stored.files(names=["notes.txt"], pattern="%")
    with pytest.raises(TrackerError, match=r"notes\.txt"):
        stored.file("missing.txt")


@pytest.mark.parametrize("filters", [{"config.lr": {"$not": 3}}, {"config.lr": {"$not": {"$near": 1}}},
                                     {"name": {"$options": "i"}}, {"name": {"$regex": "x", "$options": "q"}}])
def test_a_malformed_not_or_options_raises(filters: dict) -> None:
    with pytest.raises(SettingsError):
        Api().runs(P, filters=filters)


def test_runs_is_wandbs_lazy_paginated_sequence(sweep: dict[str, str]) -> None:
    every = Api().runs(P, order="-summary_metrics.val/acc", per_page=2)
    assert isinstance(every, tracker_core.api.Runs) and every.per_page == 2
    assert len(every.objects) == 2 and every.more  # only the first page so far
    assert repr(every).endswith("more to read>") and len(every.objects) == 2  # repr reads no page
    assert len(every) == 6 and len(every.objects) == 2  # the total without reading the pages
    assert every[0].name == "bert-failed" and every[2].name == "bert-large" and len(every.objects) == 4
    assert [run.name for run in every[1:3]] == ["gpt-small", "bert-large"] and len(every.objects) == 4
    names = [run.name for run in every]
    assert names == ["bert-failed", "gpt-small", "bert-large", "bert-base", "no-entity", "elsewhere"]
    assert every[-1].name == "elsewhere" and [run.name for run in every[-2:]] == ["no-entity", "elsewhere"]
    assert every[4:] == every[-2:] and not every.more
    with pytest.raises(IndexError):
        every[6]
    assert every == list(every) and Api().runs(P, filters={"state": "crashed"}) == []
    assert every[0] in every and bool(Api().runs(P)) and not Api().runs("no-such-project")
    with pytest.raises(SettingsError, match="per_page"):
        Api().runs(P, per_page=0)


def test_runs_histories_puts_every_runs_history_in_one_table(sweep: dict[str, str]) -> None:
    runs = Api().runs(P, filters={"tags": "phase-1", "state": "finished"}, order="displayName")
    rows = runs.histories(keys=["val/acc"])
    assert [(row["run_id"], row["_step"], row["val/acc"]) for row in rows] == [
        (sweep["base"], 0, 0.5), (sweep["base"], 1, 0.91), (sweep["base"], 2, 0.8),
        (sweep["large"], 0, 0.6), (sweep["large"], 1, 0.95)]
    assert len(runs.histories(samples=1)) == 2  # one row a run: its last
    frame = runs.histories(keys=["val/acc"], format="pandas")
    assert list(frame["run_id"]) == [row["run_id"] for row in rows]
    with pytest.raises(SettingsError, match="format"):
        runs.histories(format="csv")

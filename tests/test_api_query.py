"""Reading runs back (issue 3, Python side): real stores written by real runs, read through ``Api``."""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from _procs import Child, child_env, events, run_script

import tracker_core
from tracker_core import Api, RunLockedError, RunNotFoundError, SettingsError, TrackerError

P = "foundation_model_v2"
SLEEPER = """
    import sys, time, tracker_core
    run = tracker_core.init(project=sys.argv[1]); run.log({"val/accuracy": 0.5}, step=0)
    print("ready", run.id, flush=True); time.sleep(60)
"""
SWEEP = [  # name, learning_rate, optimizer, tags, val/accuracy values (none: no such metric), exit code
    ("nan-run", 1e-5, None, ["phase-2"], [0.5, float("nan")], 0),  # first: a sort that mishandles NaN keeps it so
    ("bert-base", 3e-4, "adam", ["phase-1"], [0.91], 0),
    ("bert-large", 5e-4, "sgd", ["phase-1", "phase-2"], [0.95], 0),
    ("gpt-small", 2e-3, "adam", ["phase-1"], [0.97], 0),
    ("bert-failed", 1e-4, None, ["phase-1"], [0.99], 1),
    ("no-metric", 1e-2, None, [], [], 0),
]
BY_ACCURACY = ["bert-base", "bert-large", "gpt-small", "bert-failed"]
BY_LR = ["nan-run", "bert-failed", "bert-base", "bert-large", "gpt-small", "no-metric"]
GARBAGE: dict[str, Any] = {  # (run id, stat of its log) -> what the index holds; None: no index at all
    "deleted": lambda i, log: None, "bytes": lambda i, log: b"\x00\xff not json {", "list": lambda i, log: [],
    "version": lambda i, log: {"version": 99, "runs": {}}, "entry": lambda i, log: {"version": 1, "runs": {i: [1]}},
    "digest": lambda i, log: {"version": 1, "runs": {i: {"key": [log.st_size, log.st_mtime_ns], "digest": {}}}},
}


def _run(name: str, config: dict[str, Any], rows: list[dict[str, Any]] | None = None, project: str = P,
         tags: list[str] | None = None, exit_code: int = 0, **options: Any) -> str:
    run = tracker_core.init(project=project, name=name, config=config, tags=tags or [], **options)
    for step, row in enumerate(rows or []):
        run.log(row, step=step)
    run.finish(exit_code=exit_code)
    return run.id


def _names(runs: list[tracker_core.StoredRun]) -> list[str]:
    return [run.name for run in runs]


def _listing() -> list[tuple[Any, ...]]:
    return [(r.id, r.name, r.status, r.exit_code, r.tags, r.notes, repr(r.config), repr(r.summary), r.created_at,
             r.duration) for r in Api().runs(P)]


@pytest.fixture
def sweep() -> dict[str, str]:
    ids = {}
    for name, lr, optimizer, tags, accuracies, code in SWEEP:
        config = {"learning_rate": lr, **({"optimizer": {"name": optimizer}} if optimizer else {})}
        rows = [{"val/accuracy": a} for a in accuracies] or [{"train/loss": 1.0}]
        ids[name] = _run(name, config, rows, tags=tags, exit_code=code)
    return ids


@pytest.mark.parametrize(("filters", "expected"), [
    ({"tags": "phase-1", "config.learning_rate": {"$lt": 1e-3}, "status": "finished"}, {"bert-base", "bert-large"}),
    ({"config.optimizer.name": "adam"}, {"bert-base", "gpt-small"}),
    ({"summary.val/accuracy": {"$gte": 0.95}}, {"bert-large", "gpt-small", "bert-failed"}),
    ({"tags": {"$in": ["phase-2"]}}, {"bert-large", "nan-run"}), ({"status": {"$ne": "finished"}}, {"bert-failed"}),
    ({"tags": {"$nin": ["phase-1"]}}, {"nan-run", "no-metric"}),
    ({"summary.val/accuracy": {"$exists": False}}, {"no-metric"}),
    ({"name": {"$regex": "^bert"}}, {"bert-base", "bert-large", "bert-failed"}),
    ({"$or": [{"config.optimizer.name": "sgd"}, {"status": "failed"}]}, {"bert-large", "bert-failed"}),
    ({"$and": [{"tags": "phase-1"}, {"name": {"$regex": "large"}}]}, {"bert-large"}),
    (["config.learning_rate<1e-3", "status=finished", "name~^bert"], {"bert-base", "bert-large"}),
    (["summary.val/accuracy>=0.95", "config.optimizer.name=adam"], {"gpt-small"}),
    (["tags=phase-2", "status!=failed"], {"bert-large", "nan-run"}),
])
def test_filters_select_exactly_the_matching_runs(sweep: dict[str, str], filters: Any, expected: set[str]) -> None:
    assert set(_names(Api().runs(P, filters=filters))) == expected


def test_expression_filters_compare_text_fields_as_text() -> None:
    _run("007", {"learning_rate": 1e-3}, tags=["2024"])
    _run("other", {"learning_rate": 1e-3}, tags=["2023"])
    assert _names(Api().runs(P, filters=["name=007"])) == ["007"]
    assert _names(Api().runs(P, filters=["tags=2024"])) == ["007"]


@pytest.mark.parametrize(("filters", "order"), [
    ({"colour": "red"}, None), ({"config.learning_rate": {"$near": 1}}, None), ({"$not": {"status": "x"}}, None),
    (["config.learning_rate"], None), (None, "-colour"),
    ({"$or": [{"config.learning_rate": {"$exists": True}}, {"colour": "red"}]}, None),  # typo in a later branch
])
def test_unknown_field_or_operator_raises_settings_error_with_hint(sweep: dict[str, str], filters: Any,
                                                                   order: str | None) -> None:
    with pytest.raises(SettingsError, match="Hint:"):
        Api().runs(P, filters=filters, order=order)


@pytest.mark.parametrize(("order", "head", "tail"), [
    ("-summary.val/accuracy", BY_ACCURACY[::-1], {"nan-run", "no-metric"}),  # NaN and missing last either way
    ("+summary.val/accuracy", BY_ACCURACY, {"nan-run", "no-metric"}),
    ("summary.val/accuracy", BY_ACCURACY, {"nan-run", "no-metric"}),
    ("+config.learning_rate", BY_LR, set()), ("-config.learning_rate", BY_LR[::-1], set()),
    ("created_at", [s[0] for s in SWEEP], set()), ("-created_at", [s[0] for s in SWEEP][::-1], set()),
])
def test_order_sorts_by_any_field_with_missing_and_nan_last(sweep: dict[str, str], order: str, head: list[str],
                                                            tail: set[str]) -> None:
    names = _names(Api().runs(P, order=order))
    assert names[:len(head)] == head and set(names[len(head):]) == tail


def test_crashed_and_failed_runs_read_true_through_runs_and_run(tmp_path: Path) -> None:
    with Child(tmp_path, SLEEPER, P, name="sleeper.py") as child:
        killed = child.expect("ready").split()[1]
        assert [r.status for r in Api().runs(P)] == ["running"]
        child.kill()
    ending = {"exits": "os._exit(3)", "raises": "raise RuntimeError('loss exploded')"}
    done = [run_script(tmp_path, f"""
        import os, sys, tracker_core
        tracker_core.init(project=sys.argv[1]).log({{"val/accuracy": 0.6}}); {how}
    """, P, name=f"{name}.py") for name, how in ending.items()]
    assert [d.returncode for d in done] == [3, 1], [d.stderr for d in done]
    exit_code_2 = _run("exit-code-2", {}, exit_code=2)
    listed = Api().runs(P, order="created_at")
    for seen in (listed, [Api().run(r.id) for r in listed]):
        assert [(r.status, r.exit_code) for r in seen] == [("crashed", None), ("crashed", None), ("failed", 1),
                                                           ("failed", 2)]
        assert "RuntimeError: loss exploded" in (seen[2].traceback or "")
    assert (listed[0].id, listed[3].id) == (killed, exit_code_2)
    assert len(Api().runs(P, filters={"status": "crashed"})) == 2
    assert _names(Api().runs(P, filters=["status=failed", "exit_code=2"])) == ["exit-code-2"]


def test_summary_follows_define_metric_through_runs_and_run() -> None:
    run = tracker_core.init(project=P)
    for name, how in [("val/loss", "min"), ("val/acc", "max"), ("train/loss", "mean"), ("lr", "first"),
                      ("epoch_time", "last"), ("f1", "min,max")]:
        run.define_metric(name, summary=how)
    for step, (loss, acc, f1) in enumerate([(0.5, 0.7, 0.2), (0.3, 0.9, 0.6), (0.4, 0.8, 0.4)]):
        run.log({"val/loss": loss, "val/acc": acc, "train/loss": loss + step, "lr": 0.1 / (step + 1),
                 "epoch_time": 10.0 + step, "f1": f1, "plain": step}, step=step)
    run.finish()
    expected = {"val/loss": 0.3, "val/acc": 0.9, "train/loss": pytest.approx(1.4), "lr": 0.1, "epoch_time": 12.0,
                "f1": {"min": 0.2, "max": 0.6}, "plain": 2}
    assert Api().runs(P)[0].summary == expected == Api().run(run.id).summary
    assert len(Api().runs(P, filters={"summary.f1.max": 0.6, "summary.val/loss": {"$lt": 0.31}})) == 1


def test_listing_is_stable_and_follows_records_written_after_it(store: Path) -> None:
    _run("done", {"learning_rate": 1e-3}, [{"acc": 0.1}])
    first = _listing()
    assert (store / P / ".index.json").exists() and _listing() == first
    live = tracker_core.init(project=P, name="live")
    live.log({"acc": 0.2}, step=0)
    assert Api().runs(P, filters={"name": "live"})[0].summary == {"acc": 0.2}
    live.log({"acc": 0.3}, step=1)
    assert [(r.status, r.summary) for r in Api().runs(P, filters={"name": "live"})] == [("running", {"acc": 0.3})]
    live.finish()
    assert Api().runs(P, filters={"name": "live"})[0].status == "finished"
    resumed = tracker_core.init(project=P, id=live.id, resume="must")
    resumed.log({"acc": 0.4}, step=2)
    resumed.finish()
    again = Api().runs(P, filters={"summary.acc": 0.4})
    assert [(r.id, r.status, len(r.history())) for r in again] == [(live.id, "finished", 3)]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_missing_or_garbage_index_still_gives_the_right_answer(store: Path, garbage: str) -> None:
    run_id = _run("a", {"learning_rate": 1e-3}, [{"acc": 0.5}], tags=["x"])
    _run("b", {"learning_rate": 2e-3}, [{"acc": 0.7}], exit_code=1)
    first = _listing()
    index = store / P / ".index.json"
    content = GARBAGE[garbage](run_id, os.stat(store / P / run_id / "events.jsonl"))
    index.unlink()
    if content is not None:
        index.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    assert _listing() == first
    assert _names(Api().runs(P, order="-summary.acc")) == ["b", "a"]


def test_update_edits_metadata_by_appending_one_meta_record(sweep: dict[str, str]) -> None:
    stored = Api().run(sweep["bert-base"])
    log = Path(stored.dir, "events.jsonl")
    before, last_seq = log.read_bytes(), events(stored)[-1]["seq"]
    stored.update(tags=["phase-2", "best"], notes="our best so far", name="bert-best")
    after = log.read_bytes()
    assert after.startswith(before)
    added = [json.loads(line) for line in after[len(before):].splitlines()]
    assert [(r["type"], r["seq"], r["set"]) for r in added] == [
        ("meta", last_seq + 1, {"tags": ["phase-2", "best"], "notes": "our best so far", "name": "bert-best"})]
    fresh = Api().run(sweep["bert-base"])
    assert (fresh.name, fresh.tags, fresh.notes, fresh.status, fresh.summary) == (
        "bert-best", ["phase-2", "best"], "our best so far", "finished", {"val/accuracy": 0.91})
    assert set(_names(Api().runs(P, filters={"tags": "phase-2"}))) == {"bert-best", "bert-large", "nan-run"}
    assert _names(Api().runs(P, filters={"notes": {"$regex": "best"}, "name": "bert-best"})) == ["bert-best"]
    snapshot = json.loads(Path(stored.dir, "run.json").read_text())
    assert [snapshot[k] for k in ("name", "tags", "notes")] == ["bert-best", ["phase-2", "best"], "our best so far"]


@pytest.mark.parametrize("changes", [{"colour": "red"}, {"tags": "phase-2"}, {"tags": [1]}, {"tags": 5}, {"notes": 3}])
def test_update_rejects_bad_fields_and_types_without_writing(changes: dict[str, Any]) -> None:
    stored = Api().run(_run("a", {}))
    before = Path(stored.dir, "events.jsonl").read_bytes()
    with pytest.raises(SettingsError, match="Hint:"):
        stored.update(**changes)
    assert Path(stored.dir, "events.jsonl").read_bytes() == before


def test_a_live_run_refuses_edits_and_deletion_and_delete_removes_it_once_dead(tmp_path: Path) -> None:
    _run("kept", {})
    # Provenance off: a subprocess it forks holds the writer's lock for a moment after a kill (a separate bug).
    with Child(tmp_path, SLEEPER, P, env=child_env(TRACKER_PROVENANCE_EXCLUDE="all")) as child:
        run_id = child.expect("ready").split()[1]
        stored = Api().run(run_id)
        before = Path(stored.dir, "events.jsonl").read_bytes()
        for edit in (lambda: stored.update(notes="mine now"), stored.delete):
            with pytest.raises(RunLockedError):
                edit()
        assert Path(stored.dir, "events.jsonl").read_bytes() == before
        assert [r.status for r in Api().runs(P)] == ["finished", "running"]  # the index knows both runs
    Api().run(run_id).delete()  # the writer was killed on leaving the with block
    assert _names(Api().runs(P)) == ["kept"] and not Path(stored.dir).exists()
    with pytest.raises(RunNotFoundError):
        Api().run(run_id)


def test_editing_a_crashed_run_keeps_its_status_and_duration(tmp_path: Path) -> None:
    with Child(tmp_path, SLEEPER, P, env=child_env(TRACKER_PROVENANCE_EXCLUDE="all")) as child:
        run_id = child.expect("ready").split()[1]
    duration = Api().run(run_id).duration
    time.sleep(0.5)
    Api().run(run_id).update(notes="post mortem: OOM")
    for seen in (Api().run(run_id), Api().runs(P)[0]):
        assert (seen.status, seen.notes) == ("crashed", "post mortem: OOM")
        assert seen.duration == pytest.approx(duration, abs=0.05)  # an edit is not activity of the run


def test_history_by_keys_and_by_another_x_axis() -> None:
    run = tracker_core.init(project=P)
    epochs = {10: 2, 20: 0, 30: 1}  # an x-axis that is not in step order
    for step in range(1500):
        run.log({"train/loss": 1.0 / (step + 1)}, step=step)
        if step in epochs:
            run.log({"epoch": epochs[step], "val/acc": 0.5 + epochs[step] / 10}, step=step)
    run.finish()
    stored = Api().runs(P)[0]
    losses = stored.history(keys=["train/loss"])
    assert [row["_step"] for row in losses] == list(range(1500))  # every row, never sampled
    assert all(set(row) == {"_step", "_timestamp", "train/loss"} for row in losses)
    by_epoch = stored.history(keys=["val/acc"], x="epoch")
    assert [(r["epoch"], r["_step"], r["val/acc"]) for r in by_epoch] == [(0, 20, 0.5), (1, 30, 0.6), (2, 10, 0.7)]
    assert [row["_step"] for row in stored.history(x="epoch")] == [20, 30, 10]
    if importlib.util.find_spec("pandas") is None:  # without pandas: the clear error instead of a DataFrame
        with pytest.raises(TrackerError, match="pip install pandas"):
            stored.history(pandas=True)
        return
    frame = stored.history(keys=["val/acc"], x="epoch", pandas=True)
    assert list(frame["epoch"]) == [0, 1, 2] and list(frame["_step"]) == [20, 30, 10]


def test_created_at_is_timezone_aware_and_duration_counts_seconds() -> None:
    before = datetime.datetime.now(datetime.UTC)
    run = tracker_core.init(project=P)
    run.log({"a": 1})
    time.sleep(0.3)
    run.finish()
    after = datetime.datetime.now(datetime.UTC)
    for stored in (Api().runs(P)[0], Api().run(run.id)):
        assert stored.created_at is not None and stored.created_at.utcoffset() == datetime.timedelta(0)
        assert before - datetime.timedelta(seconds=1) <= stored.created_at <= after
        assert stored.duration is not None and 0.3 <= stored.duration <= (after - before).total_seconds() + 0.1


def test_run_lookup_by_path_id_and_prefix_and_clear_errors() -> None:
    shared = "shared-run-001"
    _run("in-a", {}, project="a", id=shared)
    _run("in-b", {}, project="b", id=shared)
    unique = _run("unique", {}, project="b")
    assert (Api().run(f"a/{shared}").name, Api().run(f"b/{shared}").name) == ("in-a", "in-b")
    assert Api().run(unique).name == Api().run(f"b/{unique}").name == Api().run(unique[:8]).name == "unique"
    with pytest.raises(RunNotFoundError, match=f"a/{shared}.*b/{shared}"):  # ambiguous: both candidates named
        Api().run(shared)
    with pytest.raises(RunNotFoundError, match=f"did you mean .*b/{unique}"):
        Api().run(unique[:-1] + ("0" if unique[-1] != "0" else "1"))
    with pytest.raises(RunNotFoundError):
        Api().run("a/" + unique)

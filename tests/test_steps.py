"""Step rules: auto-increment, commit=False, same-step merge, backward steps, per-metric axes."""

from __future__ import annotations

import pytest

import tracker_core
from tracker_core import SettingsError, StepOrderError, TrackerWarning


def history(run: tracker_core.Run) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "_timestamp"} for row in tracker_core.Api().run(run.path).history()]


def test_without_step_each_call_is_a_new_row() -> None:
    run = tracker_core.init(project="steps")
    for value in range(3):
        run.log({"x": value})
    run.finish()
    assert history(run) == [{"_step": 0, "x": 0}, {"_step": 1, "x": 1}, {"_step": 2, "x": 2}]


def test_commit_false_accumulates_into_the_current_row() -> None:
    run = tracker_core.init(project="steps")
    run.log({"a": 1}, commit=False)
    run.log({"b": 2}, commit=False)
    run.log({"c": 3})
    run.log({"d": 4})
    run.finish()
    assert history(run) == [{"_step": 0, "a": 1, "b": 2, "c": 3}, {"_step": 1, "d": 4}]


def test_calls_at_the_same_explicit_step_merge_into_one_row() -> None:
    run = tracker_core.init(project="steps")
    for step in (0, 5):
        run.log({"train/loss": 1.0 / (step + 1)}, step=step)
        run.log({"train/grad_norm": 2.0}, step=step)
    run.finish()
    assert history(run) == [{"_step": 0, "train/loss": 1.0, "train/grad_norm": 2.0},
                            {"_step": 5, "train/loss": 1 / 6, "train/grad_norm": 2.0}]


def test_a_backward_step_is_kept_aside_counted_and_warned_once_per_key() -> None:
    run = tracker_core.init(project="steps")
    run.log({"loss": 1.0}, step=10)
    with pytest.warns(TrackerWarning, match=r"'loss' logged at step 3, behind the run's step 10"):
        run.log({"loss": 9.0}, step=3)
    run.log({"loss": 8.0}, step=4)  # same key again: no new warning (pytest turns it into an error)
    run.log({"loss": 0.5}, step=11)
    run.finish()
    stored = tracker_core.Api().run(run.path)
    assert [row["_step"] for row in stored.history()] == [10, 11]
    assert stored.summary["_tracker/out_of_order_records"] == 2
    assert run.summary["_tracker/out_of_order_records"] == 2
    with open(f"{run.dir}/events.jsonl", encoding="utf-8") as handle:
        aside = [line for line in handle if '"type":"log_aside"' in line]
    assert len(aside) == 2 and '"current_step":10' in aside[0]


@pytest.mark.parametrize("how", ["strict", "policy", "env"])
def test_raise_policy_raises_step_order_error(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if how == "env":
        monkeypatch.setenv("TRACKER_STEP_POLICY", "raise")
    kwargs = {"strict": {"strict": True}, "policy": {"step_policy": "raise"}, "env": {}}[how]
    run = tracker_core.init(project="steps", **kwargs)
    run.log({"loss": 1.0}, step=10)
    with pytest.raises(StepOrderError, match=r"step 3.*step 10"):
        run.log({"loss": 9.0}, step=3)


def test_metrics_with_their_own_step_metric_are_exempt_from_the_global_order() -> None:
    run = tracker_core.init(project="steps")
    run.define_metric("val/*", step_metric="epoch")
    run.log({"train/loss": 1.0}, step=100)
    run.log({"val/loss": 0.7, "epoch": 1}, step=1)  # behind the global step, on its own axis: accepted
    run.log({"val/acc": 0.9})  # the step metric is filled in from its last value
    run.finish()
    rows = history(run)
    assert {"_step": 1, "val/loss": 0.7, "epoch": 1} in rows
    assert any(row.get("val/acc") == 0.9 and row.get("epoch") == 1 for row in rows)
    assert "_tracker/out_of_order_records" not in tracker_core.Api().run(run.path).summary


def test_summary_follows_define_metric_and_falls_back_to_last() -> None:
    run = tracker_core.init(project="steps")
    run.define_metric("val/loss", summary="min", goal="minimize")
    run.define_metric("val/acc", goal="maximize")
    run.define_metric("lr", summary="min,max,mean")
    run.define_metric("noise", summary="none")
    for loss, acc, lr in [(0.9, 0.5, 1.0), (0.4, 0.8, 3.0), (0.6, 0.7, 2.0)]:
        run.log({"val/loss": loss, "val/acc": acc, "lr": lr, "noise": 1, "plain": loss})
    run.summary["best_epoch"] = 3
    live = dict(run.summary)
    run.finish()
    stored = tracker_core.Api().run(run.path).summary
    for summary in (live, stored):
        assert summary["val/loss"] == 0.4 and summary["val/acc"] == 0.8 and summary["plain"] == 0.6
        assert summary["lr"] == {"min": 1.0, "max": 3.0, "mean": 2.0}
        assert "noise" not in summary and summary["best_epoch"] == 3


def test_nan_does_not_become_the_minimum() -> None:
    run = tracker_core.init(project="steps")
    run.define_metric("loss", summary="min")
    for loss in (0.5, float("nan"), 0.7):
        run.log({"loss": loss})
    assert run.summary["loss"] == 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": ""}, "non-empty"),
        ({"name": "x", "summary": "median"}, "median"),
        ({"name": "x", "goal": "up"}, "minimize"),
        ({"name": "x", "step_metric": 3}, "x-axis"),
        ({"name": "epoch", "step_metric": "epoch"}, "own axis"),
        ({"name": "x", "hidden": "yes"}, "bool"),
    ],
)
def test_define_metric_argument_mistakes_raise_with_a_hint(kwargs: dict, match: str) -> None:
    run = tracker_core.init(project="steps")
    with pytest.raises(SettingsError, match=match) as raised:
        run.define_metric(**kwargs)
    assert "Hint:" in str(raised.value)


def test_summary_can_be_deleted_and_overridden() -> None:
    run = tracker_core.init(project="steps")
    run.log({"a": 1, "b": 2})
    del run.summary["a"]
    run.summary.update({"b": 5})
    run.finish()
    assert tracker_core.Api().run(run.path).summary == {"b": 5}


def test_numpy_and_integral_float_steps_are_accepted_and_bad_steps_warned() -> None:
    np = pytest.importorskip("numpy")
    run = tracker_core.init(project="steps")
    run.log({"a": 1}, step=np.int64(3))
    run.log({"a": 2}, step=4.0)
    with pytest.warns(TrackerWarning, match="step must be an integer >= 0"):
        run.log({"a": 3}, step=-1)
    run.finish()
    assert history(run) == [{"_step": 3, "a": 1}, {"_step": 4, "a": 3}]  # as without step: the current row


def test_a_mean_over_integers_beyond_the_float_range_does_not_break_reading() -> None:
    run = tracker_core.init(project="steps")
    run.define_metric("huge", summary="mean,max")
    run.log({"huge": 2**1100})
    run.log({"huge": 3})
    assert run.summary["huge"]["max"] == 2**1100
    run.finish()
    listed = tracker_core.Api().runs("steps")
    assert listed[0].summary["huge"] == {"mean": 3.0, "max": 2**1100}


def test_a_glob_does_not_cover_its_own_step_metric() -> None:
    """W&B's documented pattern: every train/ metric on the train/step axis, which is itself under train/."""
    run = tracker_core.init(project="steps")
    run.define_metric("train/*", step_metric="train/step")
    run.log({"train/loss": 0.9, "train/step": 100}, step=5)
    run.log({"train/loss": 0.7}, step=6)  # the axis value is carried over (step_sync)
    run.log({"train/loss": 0.5, "train/step": 300}, step=2)  # behind the run's step: on its own axis, accepted
    run.finish()
    stored = tracker_core.Api().run(run.path)
    rows = stored.history(keys=["train/loss", "train/step"])
    assert [(r["_step"], r["train/step"], r["train/loss"]) for r in rows] == [(2, 300, 0.5), (5, 100, 0.9),
                                                                               (6, 100, 0.7)]
    assert stored.summary["train/step"] == 300 and "_tracker/out_of_order_records" not in stored.summary
    assert [r["train/step"] for r in stored.history(x_axis="train/step")] == [100, 100, 300]


def test_several_summary_options_on_one_metric_are_all_kept() -> None:
    run = tracker_core.init(project="steps")
    run.define_metric("loss", summary="min")
    run.define_metric("loss", summary="max")  # a second call adds to the first, as in W&B
    run.define_metric("acc", summary="min,max,mean")
    run.define_metric("lr", step_metric="epoch")
    run.define_metric("lr", summary="last")  # the axis of the first call stays
    for epoch, (loss, acc) in enumerate([(0.5, 0.1), (0.2, 0.4), (0.9, 0.7)]):
        run.log({"loss": loss, "acc": acc, "lr": 0.1 / (epoch + 1), "epoch": epoch})
    assert run.summary["loss"] == {"min": 0.2, "max": 0.9}
    run.finish()
    stored = tracker_core.Api().run(run.path)
    assert stored.summary["loss"] == {"min": 0.2, "max": 0.9}
    assert stored.summary["acc"] == {"min": 0.1, "max": 0.7, "mean": pytest.approx(0.4)}
    assert stored.summary["lr"] == pytest.approx(0.1 / 3)  # one option: the value itself, in our shape
    assert stored.summary_metrics["lr"] == {"last": pytest.approx(0.1 / 3)}  # W&B's shape: always a dict
    assert [row["epoch"] for row in stored.history(keys=["lr"], x_axis="epoch")] == [0, 1, 2]

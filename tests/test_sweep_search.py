"""Search and pruning in-process: the issue's snippet run with ``import tracker_core as wandb``, locked
parameters, bayes against random on a known function, hyperband stopping the bad half, never a repeat."""

from __future__ import annotations

import math
import statistics
import time

import pytest

import tracker_core
import tracker_core as wandb
from tracker_core import RunStopped, TrackerWarning

pytest.importorskip("optuna")


def _states(sweep_id: str) -> list[str]:
    return [t.state for t in tracker_core.controller(sweep_id).trials()]


def test_the_issue_snippet_runs_unchanged() -> None:
    sweep_config = {
        "method": "random", "metric": {"name": "val/perplexity", "goal": "minimize"},
        "parameters": {"learning_rate": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-2},
                       "batch_size": {"values": [16, 32, 64]}, "warmup": {"distribution": "int_uniform",
                                                                          "min": 0, "max": 100}},
    }
    sweep_id = wandb.sweep(sweep=sweep_config, project="foundation_model_v2", entity="research")
    seen = []

    def train_sweep() -> None:
        with wandb.init() as run:
            config = wandb.config  # the trial's parameters
            seen.append((run.id, config.learning_rate, config.batch_size, config.warmup))
            for step in range(3):
                loss = config.learning_rate * 100 / (step + 1)
                wandb.log({"train/loss": loss, "val/perplexity": math.exp(loss)}, step=step)

    assert wandb.agent(sweep_id=sweep_id, function=train_sweep, count=4) == 4
    assert len(seen) == 4 and len({s[0] for s in seen}) == 4
    runs = {r.id: r for r in tracker_core.Api().runs("foundation_model_v2")}
    for run_id, lr, bs, warmup in seen:
        stored = runs[run_id]
        assert stored.state == "finished" and stored.group == sweep_id and stored.entity == "research"
        assert stored.config == {"learning_rate": lr, "batch_size": bs, "warmup": warmup}
        assert 1e-5 <= lr <= 1e-2 and bs in (16, 32, 64) and 0 <= warmup <= 100
    trials = tracker_core.controller(sweep_id).trials()
    assert [t.state for t in trials] == ["finished"] * 4
    assert all(t.value == pytest.approx(stored_value) for t, stored_value in
               zip(trials, [runs[t.run_id].summary["val/perplexity"] for t in trials], strict=True))


def test_trial_parameters_are_locked_in_config() -> None:
    sweep_id = tracker_core.sweep(sweep={"method": "grid", "parameters": {"lr": {"values": [0.1]}}}, project="p")
    seen = {}

    def train() -> None:
        run = tracker_core.init(config={"lr": 5.0, "epochs": 3})  # the sweep's value wins over init's
        seen["init"] = run.config["lr"]
        with pytest.warns(TrackerWarning, match="sweep parameter"):
            run.config.lr = 1.0
        with pytest.warns(TrackerWarning, match="sweep parameter"):
            run.config.update({"lr": 2.0, "other": 1})
        seen["after"], seen["other"], seen["epochs"] = run.config.lr, run.config.other, run.config.epochs
        run.finish()

    tracker_core.agent(sweep_id, function=train)
    assert seen == {"init": 0.1, "after": 0.1, "other": 1, "epochs": 3}


def test_finish_with_exit_code_1_ends_the_trial_failed_and_an_exception_too() -> None:
    sweep_id = tracker_core.sweep(sweep={"method": "grid", "parameters": {"a": {"values": [1, 2, 3]}}},
                                  project="p")

    def train() -> None:
        run = tracker_core.init()
        if run.config.a == 1:
            run.finish(exit_code=1)  # the seed's own pruning code
        elif run.config.a == 2:
            raise ValueError("boom")
        else:
            run.finish()

    tracker_core.agent(sweep_id, function=train)
    assert _states(sweep_id) == ["failed", "failed", "finished"]
    assert sorted(r.state for r in tracker_core.Api().runs("p")) == ["failed", "failed", "finished"]


def _curve(quality: float, step: int) -> float:
    return quality + 1.0 / (step + 1)


def test_hyperband_stops_the_bad_half_and_they_end_stopped() -> None:
    # One Hyperband bracket (max_iter / min_iter < eta), so every trial is judged at iteration 2 and 4.
    config = {"method": "grid", "metric": {"name": "val/loss", "goal": "minimize"},
              "early_terminate": {"type": "hyperband", "min_iter": 2, "max_iter": 3, "eta": 2},
              "parameters": {"quality": {"values": [0.0, 5.0, 0.0, 5.0, 0.0, 5.0, 0.0, 5.0]}}}
    sweep_id = tracker_core.sweep(sweep=config, project="hb")
    stopped_at = {}

    def train() -> None:
        with tracker_core.init() as run:
            for step in range(8):
                try:
                    run.log({"val/loss": _curve(run.config.quality, step), "other": step})
                except RunStopped:
                    stopped_at[run.id] = step
                    assert run.should_stop
                    raise
                time.sleep(0.15)  # the watcher reads the records as they arrive

    tracker_core.agent(sweep_id, function=train)
    trials = tracker_core.controller(sweep_id).trials()
    by_quality = {0.0: [], 5.0: []}
    for t in trials:
        by_quality[t.params["quality"]].append(t)
    assert [t.state for t in by_quality[0.0]] == ["finished"] * 4
    assert [t.state for t in by_quality[5.0]] == ["stopped"] * 4
    runs = {r.id: r for r in tracker_core.Api().runs("hb")}
    for t in by_quality[5.0]:
        assert runs[t.run_id].state == "stopped"
        assert 2 <= stopped_at[t.run_id] < 8  # stopped after W&B's iteration 2 (2 logged values), not at the end
        assert len(runs[t.run_id].history()) < 8
    for t in by_quality[0.0]:
        assert runs[t.run_id].state == "finished" and len(runs[t.run_id].history()) == 8


def _branin(x: float, y: float) -> float:
    return (y - 5.1 / (4 * math.pi ** 2) * x ** 2 + 5 / math.pi * x - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) \
        * math.cos(x) + 10


def _best(method: str, seed: int, trials: int) -> float:
    config = {"method": method, "metric": {"name": "f", "goal": "minimize"},
              "parameters": {"x": {"min": -5.0, "max": 10.0}, "y": {"min": 0.0, "max": 15.0}}}
    sweep_id = tracker_core.sweep(sweep=config, project=f"{method}{seed}", seed=seed)

    def train() -> None:
        with tracker_core.init() as run:
            run.log({"f": _branin(run.config.x, run.config.y)})

    tracker_core.agent(sweep_id, function=train, count=trials)
    values = [t.value for t in tracker_core.controller(sweep_id).trials()]
    assert len(values) == trials and None not in values
    return min(v for v in values if v is not None)


def test_bayes_beats_random_search_at_equal_trials() -> None:
    seeds, trials = (1, 2, 3, 4), 30
    bayes = [_best("bayes", s, trials) for s in seeds]
    random_ = [_best("random", s, trials) for s in seeds]
    print(f"\nbest Branin value after {trials} trials (optimum 0.398), seeds {seeds}")
    print("  bayes (Optuna TPE):", [round(v, 3) for v in bayes], "median", round(statistics.median(bayes), 3))
    print("  random:            ", [round(v, 3) for v in random_], "median", round(statistics.median(random_), 3))
    assert statistics.median(bayes) < statistics.median(random_)
    assert sum(b < r for b, r in zip(bayes, random_, strict=True)) >= 3


def test_bayes_never_repeats_a_configuration_and_treats_categories_as_categories() -> None:
    config = {"method": "bayes", "metric": {"name": "score", "goal": "maximize"},
              "parameters": {"opt": {"values": ["sgd", "adam", "lion"]}, "layers": {"values": [1, 2]}}}
    sweep_id = tracker_core.sweep(sweep=config, project="small", seed=7)

    def train() -> None:
        with tracker_core.init() as run:
            run.log({"score": {"sgd": 0.1, "adam": 0.9, "lion": 0.5}[run.config.opt] + run.config.layers})

    ran = tracker_core.agent(sweep_id, function=train, count=20)
    trials = tracker_core.controller(sweep_id).trials()
    configs = [(t.params["opt"], t.params["layers"]) for t in trials]
    assert ran == 6 and len(set(configs)) == 6  # the 6 configurations once each, then the space is exhausted
    assert tracker_core.controller(sweep_id).state() == "finished"


def test_ctrl_c_in_a_trial_ends_its_run_killed_and_stops_the_agent() -> None:
    sweep_id = tracker_core.sweep(sweep={"method": "grid", "parameters": {"a": {"values": [1, 2]}}}, project="int")

    def train() -> None:
        run = tracker_core.init()
        run.log({"x": 1})
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tracker_core.agent(sweep_id, function=train)
    assert _states(sweep_id) == ["killed"]
    (run,) = tracker_core.Api().runs("int")
    assert run.state == "killed"


def test_a_trial_reaching_the_metric_target_finishes_the_sweep() -> None:
    config = {"method": "grid", "metric": {"name": "acc", "goal": "maximize", "target": 0.9},
              "parameters": {"q": {"values": [0.5, 0.95, 0.7, 0.99]}}}
    sweep_id = tracker_core.sweep(sweep=config, project="target")

    def train() -> None:
        with tracker_core.init() as run:
            run.log({"acc": run.config.q})

    assert tracker_core.agent(sweep_id, function=train) == 2  # 0.5, then 0.95 reaches the target
    assert tracker_core.controller(sweep_id).state() == "finished"


def test_a_command_agent_without_a_program_is_refused_with_a_hint() -> None:
    sweep_id = tracker_core.sweep(sweep={"method": "grid", "parameters": {"a": {"value": 1}}}, project="np")
    with pytest.raises(tracker_core.SettingsError, match="add program"):
        tracker_core.agent(sweep_id)
    assert tracker_core.controller(sweep_id).trials() == []

"""Sweep configs in W&B's format: every distribution's samples against its definition, the grid quirks, the
command macros, W&B's own example configs loaded unchanged, and errors with the key path at sweep() time."""

from __future__ import annotations

import math
import random
import statistics
import sys
from pathlib import Path

import pytest

import tracker_core
from tracker_core import TrackerWarning
from tracker_core.sweeps._command import expand_command
from tracker_core.sweeps._config import SweepConfig, load_config
from tracker_core.sweeps._errors import SweepConfigError
from tracker_core.sweeps._params import Param

pytest.importorskip("optuna")

N = 4000


def _samples(spec: dict, n: int = N, seed: int = 0) -> list:
    param = Param.parse(("x",), spec)
    rng = random.Random(seed)
    return [param.sample(rng) for _ in range(n)]


def _uniform_ok(values: list[float], low: float, high: float) -> None:
    """Inside [low, high], spread over it: each tenth holds 10 % +- 3 % of the samples."""
    assert all(low <= v <= high for v in values)
    counts = [0] * 10
    for v in values:
        counts[min(9, int((v - low) / (high - low) * 10))] += 1
    assert all(abs(c / len(values) - 0.1) < 0.03 for c in counts), counts


def test_constant_and_categorical() -> None:
    assert set(_samples({"value": 7}, 50)) == {7}
    values = _samples({"values": ["a", "b", "c"]})
    assert set(values) == {"a", "b", "c"}
    assert all(abs(values.count(v) / N - 1 / 3) < 0.04 for v in "abc")
    weighted = _samples({"values": ["a", "b"], "probabilities": [0.8, 0.2]})
    assert abs(weighted.count("a") / N - 0.8) < 0.03


def test_int_uniform_includes_both_ends() -> None:
    values = _samples({"min": 1, "max": 4})  # two ints: int_uniform, as W&B infers
    assert all(isinstance(v, int) for v in values)
    assert set(values) == {1, 2, 3, 4}


def test_uniform() -> None:
    values = _samples({"min": -2.0, "max": 3})  # a float: uniform
    assert all(isinstance(v, float) for v in values)
    _uniform_ok(values, -2.0, 3.0)


def test_q_uniform_rounds_to_multiples_of_q() -> None:
    values = _samples({"distribution": "q_uniform", "min": 0, "max": 10, "q": 2})
    assert all(isinstance(v, int) and v % 2 == 0 for v in values)
    assert set(values) == {0, 2, 4, 6, 8, 10}
    floats = _samples({"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25})
    assert all(isinstance(v, float) for v in floats)
    assert {round(v, 9) for v in floats} == {0.0, 0.25, 0.5, 0.75, 1.0}


def test_log_uniform_values_is_uniform_in_log_space() -> None:
    values = _samples({"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1})
    _uniform_ok([math.log10(v) for v in values], -4, -1)


def test_log_uniform_takes_base_e_exponents_and_warns() -> None:
    with pytest.warns(TrackerWarning, match="base-e exponents"):
        values = _samples({"distribution": "log_uniform", "min": -3, "max": 0})
    _uniform_ok([math.log(v) for v in values], -3, 0)  # exp(U(-3, 0)), not U(-3, 0)


def test_inv_log_uniform_and_its_values_form() -> None:
    with pytest.warns(TrackerWarning, match="inv_log_uniform_values"):
        values = _samples({"distribution": "inv_log_uniform", "min": 0, "max": 2})
    _uniform_ok([-math.log(v) for v in values], 0, 2)  # exp(-U(min, max))
    values = _samples({"distribution": "inv_log_uniform_values", "min": 0.01, "max": 1.0})
    _uniform_ok([math.log(v) for v in values], math.log(0.01), 0.0)


def test_q_log_uniform_forms() -> None:
    with pytest.warns(TrackerWarning):
        exps = _samples({"distribution": "q_log_uniform", "min": 0, "max": math.log(100), "q": 5})
    assert all(isinstance(v, int) and v % 5 == 0 and 0 <= v <= 100 for v in exps)
    values = _samples({"distribution": "q_log_uniform_values", "min": 1, "max": 1000, "q": 1})
    assert all(isinstance(v, int) and 1 <= v <= 1000 for v in values)
    assert sum(v < 32 for v in values) / N == pytest.approx(0.5, abs=0.04)  # half the log range is below ~31.6


@pytest.mark.parametrize(("spec", "mu", "sigma"), [({"distribution": "normal"}, 0.0, 1.0),
                                                   ({"distribution": "normal", "mu": 5, "sigma": 2}, 5.0, 2.0)])
def test_normal(spec: dict, mu: float, sigma: float) -> None:
    values = _samples(spec)
    assert statistics.fmean(values) == pytest.approx(mu, abs=0.1 * sigma)
    assert statistics.stdev(values) == pytest.approx(sigma, rel=0.06)


def test_q_normal_and_log_normal_forms() -> None:
    values = _samples({"distribution": "q_normal", "mu": 10, "sigma": 3, "q": 2})
    assert all(isinstance(v, int) and v % 2 == 0 for v in values)
    assert statistics.fmean(values) == pytest.approx(10, abs=0.3)
    logs = [math.log(v) for v in _samples({"distribution": "log_normal", "mu": 1, "sigma": 0.5})]
    assert statistics.fmean(logs) == pytest.approx(1, abs=0.05)
    assert statistics.stdev(logs) == pytest.approx(0.5, rel=0.06)
    quantized = _samples({"distribution": "q_log_normal", "mu": 3, "sigma": 0.5, "q": 0.5})
    assert all(isinstance(v, float) and (v / 0.5).is_integer() and v >= 0 for v in quantized)


def test_beta_forms() -> None:
    values = _samples({"distribution": "beta", "a": 2, "b": 6})
    assert all(0 <= v <= 1 for v in values)
    assert statistics.fmean(values) == pytest.approx(2 / 8, abs=0.01)
    assert set(_samples({"distribution": "beta"}, 200)) and statistics.fmean(_samples({"distribution": "beta"})) \
        == pytest.approx(0.5, abs=0.02)  # defaults a = b = 1: uniform
    quantized = _samples({"distribution": "q_beta", "a": 1, "b": 1, "q": 0.1})
    assert {round(v, 9) for v in quantized} <= {round(i / 10, 9) for i in range(11)}


def test_grid_int_uniform_includes_max_and_q_uniform_excludes_it() -> None:
    config = SweepConfig.parse({"method": "grid", "parameters": {
        "n": {"distribution": "int_uniform", "min": 1, "max": 3},
        "q": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25},
        "c": {"value": "x"}}})
    assert config.grid_size() == 3 * 4
    points = list(config.iter_grid())
    assert sorted({p["n"] for p in points}) == [1, 2, 3]
    assert sorted({p["q"] for p in points}) == [0.0, 0.25, 0.5, 0.75]  # numpy.arange(0, 1, 0.25): no 1.0
    assert len({tuple(sorted(p.items())) for p in points}) == 12
    assert points[0] == {"c": "x", "n": 1, "q": 0.0} and points[1]["q"] == 0.25  # the last name varies fastest


def test_nested_parameters_give_a_nested_config() -> None:
    config = SweepConfig.parse({"method": "grid", "parameters": {
        "optimizer": {"parameters": {"lr": {"values": [0.1, 0.01]}, "nadam": {"parameters": {
            "beta": {"values": [0.9, 0.95]}}}}}, "bs": {"values": [32]}}})
    points = list(config.iter_grid())
    assert len(points) == 4
    assert points[0] == {"bs": 32, "optimizer": {"lr": 0.1, "nadam": {"beta": 0.9}}}


WANDB_EXAMPLES = {  # wandb/sweeps' examples/, unchanged
    "sweep-grid.yaml": """
description: sweep example using grid search
program: train.py
project: sweeps-examples
method: grid
metric:
  name: loss_metric
  goal: minimize
parameters:
  epochs:
    value: 5
  variance:
    value: 5
  sleep:
    value: 0.5
  base:
    values: [10,15,20]
  increment:
    values: [0.1,0.2,0.3]
  direction:
    values: [-1,0.1,1]
""",
    "sweep-local-hyperband.yaml": """
description: sweep examples using local controller and hyperband
program: train-local.py
project: sweeps-examples
method: grid
controller:
  type: local
metric:
  name: loss_metric
  goal: minimize
early_terminate:
  type: hyperband
  max_iter: 10
  s: 2
  eta: 3
parameters:
  epochs:
    value: 20
  base:
    values: [10,15,20]
""",
    "sweep-nested-cli.yaml": """
description: sweep examples with nested parameters using cli
program: train-nested-cli.py
project: sweeps-examples
method: grid
metric:
  name: loss
  goal: minimize
parameters:
  batch_size:
    values: [32, 64]
  optimizer:
    parameters:
      lr:
        values: [0.001, 0.0001]
      nadam:
        parameters:
          beta:
            values: [0.9, 0.95]
""",
    "docs-bayes.yaml": """
program: train.py
method: bayes
metric:
  name: val_loss
  goal: minimize
parameters:
  learning_rate:
    min: 0.0001
    max: 0.1
  optimizer:
    values: ["adam", "sgd"]
  batch_size:
    distribution: q_log_uniform_values
    max: 256
    min: 32
    q: 8
early_terminate:
  type: hyperband
  min_iter: 3
command:
  - ${env}
  - ${interpreter}
  - ${program}
  - ${args}
""",
}


@pytest.mark.parametrize("name", sorted(WANDB_EXAMPLES))
def test_wandb_example_configs_load_unchanged(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(WANDB_EXAMPLES[name])
    sweep_id = tracker_core.sweep(sweep=str(path))
    ctl = tracker_core.controller(sweep_id)
    assert ctl.sweep.project == load_config(str(path)).get("project", "uncategorized")
    claim = ctl.next_trial()
    assert claim.trial is not None and claim.trial.params


@pytest.mark.parametrize(("config", "path", "hint"), [
    ({"method": "grid", "parameters": {"lr": {"min": 0.1, "max": 1.0}}}, "parameters.lr", "grid search takes"),
    ({"method": "random", "parameters": {"lr": {"distribution": "uniformm", "min": 0, "max": 1}}},
     "parameters.lr.distribution", "log_uniform_values"),
    ({"method": "random", "parameters": {"lr": {"distribution": "log_uniform_values", "min": 0, "max": 1}}},
     "parameters.lr.min", "smallest value"),
    ({"method": "random", "parameters": {"a": {"parameters": {"b": {"min": 3, "max": 1}}}}},
     "parameters.a.parameters.b.min", "swap"),
    ({"method": "random", "parameters": {"a": {"values": [1, 2], "probabilities": [0.5, 0.6]}}},
     "parameters.a.probabilities", "sum to 1"),
    ({"method": "bayes", "parameters": {"a": {"values": [1, 2]}}}, "metric", "add metric"),
    ({"method": "random", "metric": {"name": "m"}, "parameters": {"a": {"value": 1}},
      "early_terminate": {"type": "hyperband", "max_iter": 9}}, "early_terminate", "min_iter"),
    ({"method": "random", "metric": {"name": "m", "goal": "lowest"}, "parameters": {"a": {"value": 1}}},
     "metric.goal", "minimize"),
    ({"method": "random", "parameters": {"a": {"value": 1}}, "run_cap": 0}, "run_cap", "run_cap: 50"),
    ({"method": "hyperopt", "parameters": {"a": {"value": 1}}}, "method", "method: bayes"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "paramters": {}}, "paramters", "known keys"),
    ({"method": "random", "parameters": {"a": {"min": 1, "max": 2, "q": 1}}}, "parameters.a.q", "allowed here"),
])
def test_a_bad_config_fails_at_sweep_time_with_its_key_path(config: dict, path: str, hint: str) -> None:
    with pytest.raises(SweepConfigError) as caught:
        tracker_core.sweep(sweep=config, project="p")
    assert caught.value.path == path
    assert "Hint:" in str(caught.value) and hint in str(caught.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SweepConfigError, match="cannot read"):
        tracker_core.sweep(sweep=str(tmp_path / "nope.yaml"))


PARAMS = {"lr": 0.1, "opt": "adam", "dims": [1, 2], "aug": True, "ema": False}
ENV = [] if sys.platform == "win32" else ["/usr/bin/env"]


@pytest.mark.parametrize(("command", "argv"), [
    (["${env}", "${interpreter}", "${program}", "${args}"],
     [*ENV, sys.executable, "train.py", "--lr=0.1", "--opt=adam", "--dims=[1, 2]", "--aug=True", "--ema=False"]),
    (["python", "${program}", "${args_no_hyphens}"],
     ["python", "train.py", "lr=0.1", "opt=adam", "dims=[1, 2]", "aug=True", "ema=False"]),
    (["python", "${program}", "${args_no_boolean_flags}"],
     ["python", "train.py", "--lr=0.1", "--opt=adam", "--dims=[1, 2]", "--aug"]),
    (["python", "${program}", "${args_json}"],
     ["python", "train.py", '{"lr": 0.1, "opt": "adam", "dims": [1, 2], "aug": true, "ema": false}']),
    (["python", "${program}", "--params", "${args_json_file}"], ["python", "train.py", "--params", "/tmp/p.json"]),
    (["python", "./${program}", "--config=${args_json_file}"], ["python", "./train.py", "--config=/tmp/p.json"]),
])
def test_command_macros(command: list[str], argv: list[str]) -> None:
    assert expand_command(command, "train.py", PARAMS, "/tmp/p.json") == argv


def test_import_tracker_core_loads_no_sweep_engine() -> None:
    import subprocess

    heavy = ("optuna", "sqlalchemy", "yaml", "tracker_core.sweeps._controller")
    code = f"import sys, tracker_core; tracker_core.sweep; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_run_stopped_is_a_base_exception_that_except_exception_lets_through() -> None:
    assert issubclass(tracker_core.RunStopped, BaseException)
    assert not issubclass(tracker_core.RunStopped, Exception)


def test_the_agent_kill_delay_comes_from_tracker_then_wandb_then_30_s() -> None:
    from tracker_core._settings import SweepSettings, resolve

    assert resolve(SweepSettings, {}, {}).agent_kill_delay == 30.0
    assert resolve(SweepSettings, {}, {"WANDB_AGENT_KILL_DELAY": "5"}).agent_kill_delay == 5.0
    both = {"WANDB_AGENT_KILL_DELAY": "5", "TRACKER_AGENT_KILL_DELAY": "2.5"}
    assert resolve(SweepSettings, {}, both).agent_kill_delay == 2.5
    with pytest.raises(tracker_core.SettingsError, match="TRACKER_AGENT_KILL_DELAY"):
        resolve(SweepSettings, {}, {"TRACKER_AGENT_KILL_DELAY": "-1"})

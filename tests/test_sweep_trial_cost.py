"""What a local trial costs besides its run: grid and random trials without hyperband write nothing to Optuna
(bayes and hyperband trials are Optuna trials, with the run id), and an in-process agent's trials share one
provenance, recorded at ``init()`` from the second trial on."""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path
from typing import Any

import pytest

import tracker_core
from tracker_core import _provenance

optuna = pytest.importorskip("optuna")

_PARAMS = {"a": {"values": [1, 2, 3, 4]}}


def _run_trials(sweep_id: str, count: int) -> None:
    def train() -> None:
        with tracker_core.init() as run:
            run.log({"loss": float(run.config.a)})

    tracker_core.agent(sweep_id, function=train, count=count)


@pytest.mark.parametrize(("config", "in_optuna"), [
    ({"method": "grid"}, False),
    ({"method": "random"}, False),
    ({"method": "random", "early_terminate": {"type": "hyperband", "min_iter": 1}}, True),
    ({"method": "bayes"}, True),
])
def test_only_bayes_and_hyperband_trials_are_optuna_trials(store: Path, config: dict[str, Any],
                                                          in_optuna: bool) -> None:
    sweep_id = tracker_core.sweep(sweep={**config, "metric": {"name": "loss"}, "parameters": _PARAMS}, project="p")
    _run_trials(sweep_id, 3)
    controller = tracker_core.controller(sweep_id)
    trials = controller.trials()
    assert [t.state for t in trials] == ["finished"] * 3
    study = optuna.load_study(study_name=sweep_id, storage=controller.store.optuna_url)
    if not in_optuna:
        assert study.trials == [] and {t.optuna_trial_id for t in trials} == {None}
        return
    by_id = {t._trial_id: t for t in study.trials}
    for trial in trials:
        frozen = by_id[trial.optuna_trial_id]
        assert frozen.user_attrs["tracker"] == {"params": trial.params, "run_id": trial.run_id}
        assert frozen.state == optuna.trial.TrialState.COMPLETE and frozen.value == float(trial.params["a"])


def _records(store: Path, run_id: str) -> list[dict[str, Any]]:
    [path] = glob.glob(os.path.join(glob.escape(str(store)), "*", run_id, "events.jsonl"))
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def test_in_process_trials_share_one_provenance_recorded_at_init(store: Path) -> None:
    sweep_id = tracker_core.sweep(sweep={"method": "grid", "parameters": _PARAMS}, project="p")
    _run_trials(sweep_id, 3)
    runs = [t.run_id for t in tracker_core.controller(sweep_id).trials()]
    provenance = []
    for number, run_id in enumerate(runs):
        kinds = [r["type"] for r in _records(store, run_id)]
        assert kinds.count("provenance") == 1
        if number > 0:  # the shared record is appended by init() itself, before the trial's first log
            assert kinds.index("provenance") < kinds.index("log")
        [record] = [r for r in _records(store, run_id) if r["type"] == "provenance"]
        provenance.append(record["data"])
    assert provenance[0] == provenance[1] == provenance[2]
    assert provenance[0]["command"] and "packages" in provenance[0]


def test_provenance_is_shared_only_inside_shared_by_runs() -> None:
    exclude = ["git", "gpu", "packages"]
    assert _provenance.shared(exclude, 100) is None
    with _provenance.shared_by_runs():
        assert _provenance.shared(exclude, 100) is None  # nothing gathered yet
        first = _provenance.collect(exclude, 100)
        assert _provenance.shared(exclude, 100) == first
        again = _provenance.collect(exclude, 100)
        assert again == first and again is not _provenance.shared(exclude, 100)  # a copy
        assert _provenance.shared(["gpu", "packages"], 100) is None  # other arguments: gathered anew
    assert _provenance.shared(exclude, 100) is None

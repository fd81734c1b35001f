"""A sweep's parameter importance, computed by Optuna (``optuna.importance.get_param_importances``).

The finished trials that have a value of the sweep metric become trials of an in-memory Optuna study (each
searched parameter over its ``Param.optuna_distribution()``: categoricals as categories, log scales kept), so
every method (grid and random too, which hold no Optuna parameters) and the local UI's imported sweeps are
read the same way. fANOVA (Optuna's default, seeded) up to ``FANOVA_MOST`` trials; above that Mean Decrease
Impurity, which fits one forest instead of fANOVA's per-tree variance decomposition. Both need scikit-learn.
Answers are cached per sweep until a trial ends.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Sequence
from typing import Any

__all__ = ["FANOVA_MOST", "MIN_TRIALS", "importance"]

MIN_TRIALS = 5
"""Fewer finished trials than this get a message instead of numbers (a forest over 2 points says nothing)."""
FANOVA_MOST = 200
_CACHE: dict[tuple[Any, ...], dict[str, Any]] = {}
_CACHE_MOST = 64
_LOCK = threading.Lock()


def _lookup(tree: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def _internal(param: Any, distribution: Any, value: Any) -> Any:
    """``value`` in ``distribution``'s terms (a categorical's index; a number clamped into the range), or None."""
    from optuna.distributions import CategoricalDistribution

    if isinstance(distribution, CategoricalDistribution):
        values = param.spec["values"]
        return values.index(value) if value in values else None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return None
    low, high = distribution.low, distribution.high
    clamped = min(max(value, low), high)
    return int(clamped) if isinstance(low, int) and isinstance(high, int) and not isinstance(low, bool) else clamped


def importance(cache_key: Any, config: Any, trials: Sequence[tuple[dict[str, Any], float]]) -> dict[str, Any]:
    """``{"importances": {param: share}, "evaluator": ..., "trials": n}`` for the finished trials' ``(params,
    value)``, or ``{"importances": None, "reason": ...}`` when it cannot be said (too few trials, nothing searched,
    scikit-learn missing). Shares sum to 1, most important first."""
    searched = [p for p in config.searched]
    if config.metric is None:
        return {"importances": None, "trials": len(trials), "reason": "the sweep has no metric to explain"}
    if not searched:
        return {"importances": None, "trials": len(trials), "reason": "the sweep searches no parameter"}
    if len(trials) < MIN_TRIALS:
        return {"importances": None, "trials": len(trials),
                "reason": f"parameter importance needs at least {MIN_TRIALS} finished trials with a value of "
                          f"{config.metric.name}; this sweep has {len(trials)} so far"}
    key = (cache_key, len(trials), sum(value for _, value in trials))
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    try:
        import sklearn  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    except ImportError:
        return {"importances": None, "trials": len(trials),
                "reason": "parameter importance needs scikit-learn where the server runs (pip install scikit-learn)"}
    answer = _compute(config, searched, trials)
    with _LOCK:
        if len(_CACHE) >= _CACHE_MOST:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = answer
    return answer


def _compute(config: Any, searched: list[Any], trials: Sequence[tuple[dict[str, Any], float]]) -> dict[str, Any]:
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, MeanDecreaseImpurityImportanceEvaluator

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {p.name: p.optuna_distribution() for p in searched}
    maximize = config.metric.goal == "maximize"
    study = optuna.create_study(direction="maximize" if maximize else "minimize",
                                storage=optuna.storages.InMemoryStorage())
    for params, value in trials:
        internal = {p.name: _internal(p, distributions[p.name], _lookup(params, p.path)) for p in searched}
        if any(v is None for v in internal.values()):
            continue  # a trial of an older config (a value outside today's space)
        values = {name: distributions[name].to_external_repr(v) for name, v in internal.items()}
        study.add_trial(optuna.trial.create_trial(params=values, distributions=distributions, value=value))
    used = len(study.trials)
    if used < MIN_TRIALS:
        return {"importances": None, "trials": used,
                "reason": f"parameter importance needs at least {MIN_TRIALS} finished trials whose parameters fit "
                          f"the config; this sweep has {used}"}
    varied = [name for name in distributions if len({t.params[name] for t in study.trials}) > 1]
    if not varied:
        return {"importances": None, "trials": used, "reason": "every finished trial has the same parameters"}
    fanova = used <= FANOVA_MOST
    evaluator = FanovaImportanceEvaluator(seed=0) if fanova else MeanDecreaseImpurityImportanceEvaluator(seed=0)
    with warnings.catch_warnings():  # Optuna marks its importance module experimental
        warnings.simplefilter("ignore")
        found = optuna.importance.get_param_importances(study, evaluator=evaluator, params=varied, normalize=True)
    shares = {name: float(found.get(name, 0.0)) for name in distributions}
    ordered = dict(sorted(shares.items(), key=lambda item: -item[1]))
    return {"importances": ordered, "trials": used, "evaluator": "fanova" if fanova else "mean_decrease_impurity"}

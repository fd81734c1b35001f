"""A sweep config in W&B's format, checked whole at ``sweep()`` time (never at trial 17).

Top-level keys are W&B's (``method``, ``metric``, ``parameters``, ``early_terminate``, ``run_cap``, ``command``,
``program``, ``name``, ``description``, plus ``project``/``entity``/``controller``/``kind``/``apiVersion``, which
are read or accepted). Each error names its key path and carries a hint.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tracker_core.sweeps._errors import SweepConfigError
from tracker_core.sweeps._params import GRID_KINDS, Param

__all__ = ["DEFAULT_COMMAND", "Hyperband", "Metric", "SweepConfig", "load_config", "nest"]

DEFAULT_COMMAND = ("${env}", "${interpreter}", "${program}", "${args}")
_ACCEPTED = {"method", "metric", "parameters", "early_terminate", "run_cap", "command", "program", "name",
             "description", "project", "entity", "controller", "kind", "apiVersion"}
_UNSUPPORTED = {"job": "Launch jobs", "image_uri": "Launch images", "scheduler": "custom schedulers",
                "metrics": "multi-objective sweeps"}
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


@dataclass(frozen=True)
class Metric:
    name: str
    goal: str = "minimize"
    target: float | None = None


@dataclass(frozen=True)
class Hyperband:
    """``early_terminate: {type: hyperband}``: W&B's ``min_iter`` or ``max_iter`` + ``s``, ``eta``, ``strict``.

    ``bands`` are W&B's check points (``min_iter * eta^k``, or ``max_iter / eta^k`` for ``k`` in 1..s).
    An iteration is one logged value of the sweep metric (W&B's meaning, not ``_step``).
    """

    eta: int
    min_iter: int | None
    max_iter: int | None
    s: int | None
    strict: bool

    @property
    def min_resource(self) -> int:
        if self.min_iter is not None:
            return self.min_iter
        assert self.max_iter is not None and self.s is not None  # the config check guarantees one form
        return max(1, int(self.max_iter / self.eta ** self.s))


@dataclass(frozen=True)
class SweepConfig:
    raw: dict[str, Any]
    method: str
    params: tuple[Param, ...]
    metric: Metric | None
    hyperband: Hyperband | None
    run_cap: int | None
    command: tuple[str, ...]
    program: str | None
    name: str | None
    description: str | None

    @property
    def searched(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.kind != "constant")

    def grid_size(self) -> int:
        return math.prod(len(p.grid_values()) for p in self.params)

    def grid_point(self, index: int) -> dict[str, Any]:
        """The ``index``-th grid point, W&B's order: parameters sorted by name, the last varying fastest."""
        flat: dict[tuple[str, ...], Any] = {}
        for param in reversed(self.params):
            values = param.grid_values()
            index, position = divmod(index, len(values))
            flat[param.path] = values[position]
        return nest({param.path: flat[param.path] for param in self.params})

    def iter_grid(self) -> Iterator[dict[str, Any]]:
        for index in range(self.grid_size()):
            yield self.grid_point(index)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> SweepConfig:
        """Check a config dict; raises SweepConfigError (key path + hint); warns for deprecated distributions."""
        if not isinstance(raw, Mapping):
            raise SweepConfigError("<config>", f"a sweep config is a mapping, not {type(raw).__name__}",
                                   "pass a dict or the path of a YAML file")
        raw = dict(raw)
        for key in raw:
            if key in _UNSUPPORTED:
                raise SweepConfigError(key, f"{_UNSUPPORTED[key]} are not supported by local sweeps",
                                       "remove the key; use method grid, random or bayes")
            if key not in _ACCEPTED:
                raise SweepConfigError(key, "not a sweep config key", "known keys: " + ", ".join(sorted(_ACCEPTED)))
        method = raw.get("method")
        if method not in ("grid", "random", "bayes"):
            raise SweepConfigError("method", f"{method!r} is not grid, random or bayes",
                                   "write method: grid, method: random or method: bayes")
        if not isinstance(raw.get("parameters"), Mapping) or not raw["parameters"]:
            raise SweepConfigError("parameters", "missing or empty", "give at least one parameter, e.g. "
                                   "parameters: {lr: {min: 0.0001, max: 0.1}}")
        params = tuple(sorted(_parse_params((), raw["parameters"]), key=lambda p: p.path))
        metric = _metric(raw.get("metric"))
        if method == "grid":
            for p in params:
                if p.kind not in GRID_KINDS:
                    raise SweepConfigError(f"parameters.{p.name}", f"a {p.kind} parameter has no grid",
                                           "grid search takes values, value, int_uniform or q_uniform only")
        if method == "bayes" and metric is None:
            raise SweepConfigError("metric", "bayes search needs a metric to optimise",
                                   "add metric: {name: val/loss, goal: minimize}")
        hyperband = _hyperband(raw.get("early_terminate"))
        if hyperband is not None and metric is None:
            raise SweepConfigError("early_terminate", "hyperband needs the sweep metric",
                                   "add metric: {name: ..., goal: ...}")
        run_cap = raw.get("run_cap")
        if run_cap is not None and (not isinstance(run_cap, int) or isinstance(run_cap, bool) or run_cap <= 0):
            raise SweepConfigError("run_cap", f"{run_cap!r} is not a positive integer", "write e.g. run_cap: 50")
        command = raw.get("command", list(DEFAULT_COMMAND))
        if not isinstance(command, list) or not command or not all(isinstance(c, str | int | float) for c in command):
            raise SweepConfigError("command", "must be a non-empty list of strings",
                                   "e.g. command: [${env}, ${interpreter}, ${program}, ${args}]")
        for key in ("program", "name", "description", "project", "entity"):
            if raw.get(key) is not None and not isinstance(raw[key], str):
                raise SweepConfigError(key, f"must be a string, not {type(raw[key]).__name__}", f"quote the {key}")
        return cls(raw=raw, method=method, params=params, metric=metric, hyperband=hyperband, run_cap=run_cap,
                   command=tuple(str(c) for c in command), program=raw.get("program"), name=raw.get("name"),
                   description=raw.get("description"))


def _parse_params(prefix: tuple[str, ...], raw: Mapping[str, Any]) -> Iterator[Param]:
    for name, spec in raw.items():
        path = (*prefix, str(name))
        where = "parameters." + ".parameters.".join(path)
        if not isinstance(name, str) or not name or name[0].isdigit() or not set(name) <= _NAME_CHARS:
            raise SweepConfigError(where, f"{name!r} is not a parameter name",
                                   "names start with a letter or _ and hold letters, digits, _ . -")
        if isinstance(spec, Mapping) and "parameters" in spec:
            if set(spec) != {"parameters"} or not isinstance(spec["parameters"], Mapping) or not spec["parameters"]:
                raise SweepConfigError(where, "a nested section holds only a non-empty `parameters`",
                                       "move the other keys into its parameters")
            yield from _parse_params(path, spec["parameters"])
        else:
            yield Param.parse(path, dict(spec) if isinstance(spec, Mapping) else spec)


def _metric(raw: Any) -> Metric | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise SweepConfigError("metric.name", "missing", "write metric: {name: val/loss, goal: minimize}")
    for key in raw:
        if key not in ("name", "goal", "target", "impute", "impute_while_running"):
            raise SweepConfigError(f"metric.{key}", "not a metric key", "known: name, goal, target")
    goal = raw.get("goal", "minimize")
    if goal not in ("minimize", "maximize"):
        raise SweepConfigError("metric.goal", f"{goal!r} is not minimize or maximize", "write goal: minimize")
    target = raw.get("target")
    if target is not None and (not isinstance(target, int | float) or isinstance(target, bool)):
        raise SweepConfigError("metric.target", f"{target!r} is not a number", "write e.g. target: 0.95")
    return Metric(raw["name"], goal, None if target is None else float(target))


def _hyperband(raw: Any) -> Hyperband | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or raw.get("type") != "hyperband":
        raise SweepConfigError("early_terminate.type", "only hyperband is known",
                               "write early_terminate: {type: hyperband, min_iter: 3}")
    for key in raw:
        if key not in ("type", "min_iter", "max_iter", "s", "eta", "strict"):
            raise SweepConfigError(f"early_terminate.{key}", "not a hyperband key",
                                   "known: type, min_iter, max_iter, s, eta, strict")
    min_iter, max_iter, s = raw.get("min_iter"), raw.get("max_iter"), raw.get("s")
    eta = raw.get("eta", 3)
    for key, value in (("min_iter", min_iter), ("max_iter", max_iter), ("s", s)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise SweepConfigError(f"early_terminate.{key}", f"{value!r} is not a positive integer",
                                   "write e.g. min_iter: 3")
    if min_iter is None and (max_iter is None or s is None):
        raise SweepConfigError("early_terminate", "hyperband needs min_iter, or max_iter with s",
                               "write min_iter: 3 (or max_iter: 27 and s: 2)")
    if not isinstance(eta, int | float) or isinstance(eta, bool) or eta <= 1:
        raise SweepConfigError("early_terminate.eta", f"{eta!r} must be a number above 1", "write eta: 3")
    if eta != int(eta):
        raise SweepConfigError("early_terminate.eta", f"{eta} is not a whole number",
                               "Optuna's Hyperband pruner takes an integer reduction factor: write eta: 2 or 3")
    strict = raw.get("strict", True)
    if not isinstance(strict, bool):
        raise SweepConfigError("early_terminate.strict", f"{strict!r} is not true or false", "write strict: true")
    band = Hyperband(int(eta), min_iter, max_iter, s, strict)
    if min_iter is None and max_iter is not None and max_iter / eta < 1:
        raise SweepConfigError("early_terminate.max_iter", "no band left: max_iter / eta is below 1",
                               "increase max_iter or decrease eta")
    return band


def nest(flat: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    """``{("opt", "lr"): 0.1}`` -> ``{"opt": {"lr": 0.1}}`` (nested ``parameters`` give nested config)."""
    tree: dict[str, Any] = {}
    for path, value in flat.items():
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def load_config(sweep: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """A config dict from a dict or a YAML/JSON file path.

    Raises:
        SweepConfigError: the file is missing or is not a mapping.
    """
    if isinstance(sweep, Mapping):
        return dict(sweep)
    if not isinstance(sweep, str | os.PathLike):
        raise SweepConfigError("<config>", f"a {type(sweep).__name__} is not a sweep config",
                               "pass a dict or the path of a YAML file")
    path = os.fspath(sweep)
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        raise SweepConfigError(path, f"cannot read the file: {exc.strerror}", "check the path") from None
    import yaml  # type: ignore[import-untyped,unused-ignore]  # comes with optuna (the sweeps extra)

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SweepConfigError(path, f"not valid YAML: {exc}", "fix the file's syntax") from None
    if not isinstance(data, dict):
        raise SweepConfigError(path, "the file does not hold a mapping", "a sweep file starts with method: ...")
    return data

"""One sweep parameter: its W&B distribution, checked, and how it is sampled, enumerated in a grid, and
searched by Optuna.

W&B's meanings, quirks included (``wandb/sweeps``' ``params.py`` and ``grid_search.py`` are the reference):

| distribution | sample |
|---|---|
| ``constant`` | ``value`` |
| ``categorical`` | one of ``values`` (with ``probabilities``: drawn with those weights) |
| ``int_uniform`` | an int in ``[min, max]``, both included |
| ``uniform`` | a float in ``[min, max]`` |
| ``q_uniform`` | ``round(U(min, max) / q) * q`` (an int when ``q`` is); a grid: ``min, min+q, ...`` below ``max`` |
| ``log_uniform`` | ``exp(U(min, max))``: ``min``/``max`` are base-e exponents (deprecated, warns) |
| ``log_uniform_values`` | log-uniform between the values ``min`` and ``max`` |
| ``q_log_uniform`` / ``q_log_uniform_values`` | the above, rounded to a multiple of ``q`` |
| ``inv_log_uniform`` | ``exp(-U(min, max))`` (exponents, deprecated, warns) |
| ``inv_log_uniform_values`` | ``exp(-U(-log max, -log min))``: log-uniform between the values |
| ``normal`` / ``q_normal`` | ``N(mu, sigma)`` (defaults 0, 1), rounded to ``q`` for ``q_`` |
| ``log_normal`` / ``q_log_normal`` | ``exp(N(mu, sigma))``, rounded to ``q`` for ``q_`` |
| ``beta`` / ``q_beta`` | ``Beta(a, b)`` (defaults 1, 1), rounded to ``q`` for ``q_`` |

Rounding is Python's ``round`` (half to even), as NumPy's. Without ``distribution``, W&B's inference holds:
``value`` is a constant, ``values`` categorical, ``min``/``max`` ``int_uniform`` when both are ints, else ``uniform``.
"""

from __future__ import annotations

import math
import random
import warnings
from dataclasses import dataclass, field
from typing import Any

from tracker_core._errors import TrackerWarning
from tracker_core.sweeps._errors import SweepConfigError

__all__ = ["DISTRIBUTIONS", "GRID_KINDS", "Param"]

_NUMERIC = {  # distribution -> (required keys, optional keys with their defaults)
    "int_uniform": (("min", "max"), {}),
    "uniform": (("min", "max"), {}),
    "q_uniform": (("min", "max"), {"q": 1.0}),
    "log_uniform": (("min", "max"), {}),
    "log_uniform_values": (("min", "max"), {}),
    "q_log_uniform": (("min", "max"), {"q": 1.0}),
    "q_log_uniform_values": (("min", "max"), {"q": 1.0}),
    "inv_log_uniform": (("min", "max"), {}),
    "inv_log_uniform_values": (("min", "max"), {}),
    "normal": ((), {"mu": 0.0, "sigma": 1.0}),
    "q_normal": ((), {"mu": 0.0, "sigma": 1.0, "q": 1.0}),
    "log_normal": ((), {"mu": 0.0, "sigma": 1.0}),
    "q_log_normal": ((), {"mu": 0.0, "sigma": 1.0, "q": 1.0}),
    "beta": ((), {"a": 1.0, "b": 1.0}),
    "q_beta": ((), {"a": 1.0, "b": 1.0, "q": 1.0}),
}
DISTRIBUTIONS = ("constant", "categorical", "categorical_w_probabilities", *_NUMERIC)
GRID_KINDS = ("constant", "categorical", "int_uniform", "q_uniform")
_DEPRECATED = {"log_uniform": "log_uniform_values", "q_log_uniform": "q_log_uniform_values",
               "inv_log_uniform": "inv_log_uniform_values"}
_POSITIVE_MIN = ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Param:
    """A checked parameter at ``path`` (nested ``parameters`` give a path of several names)."""

    path: tuple[str, ...]
    kind: str
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return ".".join(self.path)

    @classmethod
    def parse(cls, path: tuple[str, ...], raw: Any) -> Param:
        """Check one parameter's dict; raises SweepConfigError naming ``parameters.<path>``."""
        where = "parameters." + ".parameters.".join(path)
        if not isinstance(raw, dict):
            raise SweepConfigError(where, f"a parameter is a mapping, not {type(raw).__name__}",
                                   "write e.g. {values: [1, 2]}, {value: 3} or {distribution: uniform, min: 0, max: 1}")
        kind = raw.get("distribution")
        if kind is None:
            kind = _infer(where, raw)
        if kind not in DISTRIBUTIONS:
            raise SweepConfigError(f"{where}.distribution", f"unknown distribution {kind!r}",
                                   "one of " + ", ".join(DISTRIBUTIONS))
        if kind == "categorical" and "probabilities" in raw:
            kind = "categorical_w_probabilities"
        spec = {k: v for k, v in raw.items() if k != "distribution"}
        if kind == "constant":
            _only(where, spec, ("value",), ("value",))
        elif kind in ("categorical", "categorical_w_probabilities"):
            _check_categorical(where, spec, kind)
        else:
            required, optional = _NUMERIC[kind]
            _only(where, spec, (*required, *optional), required)
            for key, value in spec.items():
                if not _number(value):
                    raise SweepConfigError(f"{where}.{key}", f"{value!r} is not a finite number", "write a number")
            spec = {**optional, **spec}
            _check_numeric(where, kind, spec)
        if kind in _DEPRECATED:
            warnings.warn(f"sweep {where}: {kind} takes base-e exponents as min/max (W&B's deprecated meaning); "
                          f"use {_DEPRECATED[kind]} to give the values themselves", TrackerWarning, stacklevel=4)
        return cls(path, kind, spec)

    # ----- random -------------------------------------------------------------------------------

    def sample(self, rng: random.Random) -> Any:
        """A value drawn from this parameter's distribution (W&B's definitions above)."""
        s, kind = self.spec, self.kind
        if kind == "constant":
            return s["value"]
        if kind == "categorical":
            return rng.choice(s["values"])
        if kind == "categorical_w_probabilities":
            return rng.choices(s["values"], weights=s["probabilities"])[0]
        if kind == "int_uniform":
            return rng.randint(s["min"], s["max"])
        return self.quantized(self._continuous(rng))

    def _continuous(self, rng: random.Random) -> float:
        s, kind = self.spec, self.kind.removeprefix("q_")
        if kind == "uniform":
            return rng.uniform(s["min"], s["max"])
        if kind == "log_uniform":
            return math.exp(rng.uniform(s["min"], s["max"]))
        if kind in ("log_uniform_values", "inv_log_uniform_values"):
            return math.exp(rng.uniform(math.log(s["min"]), math.log(s["max"])))
        if kind == "inv_log_uniform":
            return math.exp(-rng.uniform(s["min"], s["max"]))
        if kind == "normal":
            return rng.gauss(s["mu"], s["sigma"])
        if kind == "log_normal":
            return math.exp(rng.gauss(s["mu"], s["sigma"]))
        return rng.betavariate(s["a"], s["b"])  # beta

    def quantized(self, value: float) -> Any:
        """``round(value / q) * q`` for the ``q_`` distributions (an int when ``q`` is one); else the value."""
        if not self.kind.startswith("q_"):
            return value
        q = self.spec["q"]
        rounded = round(value / q) * q
        return int(rounded) if isinstance(q, int) else float(rounded)

    # ----- grid ---------------------------------------------------------------------------------

    def grid_values(self) -> list[Any]:
        """The values a grid walks through: ``int_uniform`` includes ``max``, ``q_uniform`` excludes it (W&B)."""
        s = self.spec
        if self.kind == "constant":
            return [s["value"]]
        if self.kind == "categorical":
            return list(s["values"])
        if self.kind == "int_uniform":
            return list(range(s["min"], s["max"] + 1))
        if self.kind == "q_uniform":  # numpy.arange(min, max, q)
            n = max(0, math.ceil((s["max"] - s["min"]) / s["q"]))
            integral = all(isinstance(s[k], int) for k in ("min", "max", "q"))
            return [s["min"] + i * s["q"] if integral else float(s["min"] + i * s["q"]) for i in range(n)]
        raise ValueError(f"{self.kind} has no grid")  # the config check rules this out

    # ----- bayes (Optuna) -----------------------------------------------------------------------

    def optuna_distribution(self) -> Any:
        """The Optuna distribution that TPE searches for this parameter (None for a constant).

        Categoricals are searched as categories (over their indices, so any value works); ``q_`` kinds are
        searched continuous and rounded after; unbounded ones over a bounded range: ``normal`` over
        ``mu ± 4 sigma``, ``log_normal`` over ``exp(mu ± 4 sigma)`` on a log scale, ``beta`` over [0, 1].
        """
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        s, kind = self.spec, self.kind
        if kind == "constant":
            return None
        if kind in ("categorical", "categorical_w_probabilities"):
            return CategoricalDistribution(list(range(len(s["values"]))))
        if kind == "int_uniform":
            return IntDistribution(s["min"], s["max"])
        base = kind.removeprefix("q_")
        if base == "uniform":
            return FloatDistribution(s["min"], s["max"])
        if base == "log_uniform":
            return FloatDistribution(math.exp(s["min"]), math.exp(s["max"]), log=True)
        if base == "inv_log_uniform":
            return FloatDistribution(math.exp(-s["max"]), math.exp(-s["min"]), log=True)
        if base in ("log_uniform_values", "inv_log_uniform_values"):
            return FloatDistribution(s["min"], s["max"], log=True)
        if base == "normal":
            return FloatDistribution(s["mu"] - 4 * s["sigma"], s["mu"] + 4 * s["sigma"])
        if base == "log_normal":
            return FloatDistribution(math.exp(s["mu"] - 4 * s["sigma"]), math.exp(s["mu"] + 4 * s["sigma"]), log=True)
        return FloatDistribution(0.0, 1.0)  # beta

    def from_optuna(self, value: Any) -> Any:
        """The parameter's value for what Optuna suggested over ``optuna_distribution()``."""
        if self.kind in ("categorical", "categorical_w_probabilities"):
            return self.spec["values"][int(value)]
        if self.kind == "int_uniform":
            return int(value)
        return self.quantized(float(value))


def _infer(where: str, raw: dict[str, Any]) -> str:
    """W&B's rule for a parameter without ``distribution``."""
    if "value" in raw:
        return "constant"
    if "values" in raw:
        return "categorical"
    if "min" in raw and "max" in raw:
        ints = all(isinstance(raw[k], int) and not isinstance(raw[k], bool) for k in ("min", "max"))
        return "int_uniform" if ints else "uniform"
    raise SweepConfigError(where, "cannot tell the distribution",
                           "give value, values, min and max, or a distribution (e.g. distribution: normal)")


def _only(where: str, spec: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...]) -> None:
    for key in spec:
        if key not in allowed:
            raise SweepConfigError(f"{where}.{key}", "not a key of this distribution",
                                   "allowed here: " + (", ".join(allowed) or "nothing but distribution"))
    for key in required:
        if key not in spec:
            raise SweepConfigError(f"{where}.{key}", "missing", f"this distribution needs {', '.join(required)}")


def _check_categorical(where: str, spec: dict[str, Any], kind: str) -> None:
    keys = ("values", "probabilities") if kind == "categorical_w_probabilities" else ("values",)
    _only(where, spec, keys, keys)
    values = spec["values"]
    if not isinstance(values, list) or not values:
        raise SweepConfigError(f"{where}.values", "must be a non-empty list", "write values: [a, b, c]")
    if kind == "categorical_w_probabilities":
        probs = spec["probabilities"]
        if not isinstance(probs, list) or len(probs) != len(values) or not all(_number(p) and p >= 0 for p in probs):
            raise SweepConfigError(f"{where}.probabilities", "must be one non-negative number per value",
                                   f"give {len(values)} probabilities that sum to 1")
        if not math.isclose(sum(probs), 1.0, abs_tol=1e-6):
            raise SweepConfigError(f"{where}.probabilities", f"sum to {sum(probs)}, not 1", "make them sum to 1")


def _check_numeric(where: str, kind: str, spec: dict[str, Any]) -> None:
    if "min" in spec and spec["min"] > spec["max"]:
        raise SweepConfigError(f"{where}.min", f"{spec['min']} is above max {spec['max']}", "swap min and max")
    if kind == "int_uniform" and not all(isinstance(spec[k], int) for k in ("min", "max")):
        raise SweepConfigError(f"{where}.min", "int_uniform takes integer min and max",
                               "use distribution: uniform for floats")
    if kind in _POSITIVE_MIN and spec["min"] <= 0:
        raise SweepConfigError(f"{where}.min", f"{kind} needs min > 0 (got {spec['min']})",
                               "give the smallest value itself, e.g. 1e-5")
    for key in ("q", "sigma", "a", "b"):
        if key in spec and (spec[key] < 0 or (key == "q" and spec[key] == 0)):
            raise SweepConfigError(f"{where}.{key}", f"{spec[key]} is out of range",
                                   "q must be > 0; sigma, a and b must be >= 0")

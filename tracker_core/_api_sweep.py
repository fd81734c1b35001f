"""``Api().sweep(path)``: a sweep as W&B's public API shows it (``wandb.apis.public.Sweep``): its id, config,
state, trial runs and best run. The local store's sweeps and the team server's share this class; each
``Api`` hands it the sweep's record and a loader of its trial runs."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from tracker_core._errors import TrackerWarning

__all__ = ["StoredSweep", "order_key", "sweep_order"]

_RUN_COLUMNS = ("createdAt", "updatedAt", "name", "sweep")
_KNOWN_PREFIXES = ("config", "summary_metrics", "tags")


def order_key(key: str) -> str:
    """W&B's ``QueryGenerator.format_order_key``: ``"loss"`` -> ``"-summary_metrics.loss"``, ``"+val.acc"`` ->
    ``"+summary_metrics.val.acc"``, ``"+config.lr"`` unchanged (no sign means descending, as in W&B)."""
    direction, rest = (key[0], key[1:]) if key.startswith(("+", "-")) else ("-", key)
    parts = rest.split(".")
    if len(parts) == 1:
        return direction + (rest if rest in _RUN_COLUMNS else "summary_metrics." + rest)
    if parts[0] not in _KNOWN_PREFIXES:
        return direction + "summary_metrics." + rest
    return direction + rest


def sweep_order(config: dict[str, Any]) -> str | None:
    """The order of the sweep's metric (``+summary_metrics.NAME`` to minimise, ``-`` to maximise), or None."""
    metric = config.get("metric")
    if not isinstance(metric, dict) or not isinstance(metric.get("name"), str) or not metric["name"]:
        return None
    prefix = "-" if metric.get("goal") == "maximize" else "+"
    return order_key(prefix + metric["name"])


class StoredSweep:
    """A sweep: ``id``, ``entity``, ``project``, ``name``, ``config`` (its W&B config), ``method``, ``state``
    (running, paused, finished, cancelled), ``created_at``, ``counts`` (trials by state), ``runs`` (the trial
    runs, by trial number, as ``Api().runs`` gives them) and ``best_run()``."""

    def __init__(self, sweep_id: str, entity: str | None, project: str, name: str | None, config: dict[str, Any],
                 state: str, created_at: float, counts: dict[str, int], trials: Sequence[Any],
                 load_runs: Callable[[], list[Any]]) -> None:
        self.id = sweep_id
        self.entity = entity
        self.project = project
        self.name = name
        self.config = config
        self.method: str = str(config.get("method") or "")
        self.state = state
        self.created_at = created_at
        self.counts = counts
        self.trials = list(trials)
        """The trials (``TrialRow``: number, run id, parameters, state, the metric's final value), by number."""
        self._load_runs = load_runs
        self._runs: list[Any] | None = None

    @property
    def path(self) -> str:
        return "/".join(p for p in (self.entity, self.project, self.id) if p)

    @property
    def runs(self) -> list[Any]:
        """The trial runs that exist (a trial whose process never started its run has none), by trial number;
        read once, on first use."""
        if self._runs is None:
            self._runs = self._load_runs()
        return self._runs

    @property
    def order(self) -> str | None:
        """W&B's ``Sweep.order``: the sweep metric as a runs order, or None when the config has no metric."""
        return sweep_order(self.config)

    @property
    def expected_run_count(self) -> int | None:
        """``run_cap``, else the grid's size for a grid sweep, else None (no end set)."""
        cap = self.config.get("run_cap")
        if isinstance(cap, int) and not isinstance(cap, bool):
            return cap
        if self.method == "grid":
            from tracker_core.sweeps._config import SweepConfig

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return SweepConfig.parse(self.config).grid_size()
        return None

    def best_run(self, order: str | None = None) -> Any:
        """The trial run first by ``order`` (W&B's keys: ``"-summary_metrics.acc"``, ``"+loss"``, ``"config.lr"``;
        a bare name is a summary metric, descending), by default the sweep's metric and goal (its summary value,
        as W&B's). Runs without the value never win: None when no run has it. With no order and no metric in the
        config: the newest run, with a warning (as W&B).

        Raises:
            SettingsError: ``order`` names an unknown field.
        """
        from tracker_core._query import MISSING, check_field, lookup, sort_runs

        key = order_key(order) if order else self.order
        runs = self.runs
        if key is None:
            warnings.warn(f"sweep {self.id} has no metric and no order was given; returning its newest run",
                          TrackerWarning, stacklevel=2)
            return max(runs, key=lambda run: run.created_at.timestamp() if run.created_at else 0.0, default=None)
        field = check_field(key.lstrip("+-"))
        ranked = sort_runs(list(runs), key)
        if not ranked:
            return None
        value = lookup(ranked[0], field)
        if value is MISSING or value != value or isinstance(value, dict | list):
            return None
        return ranked[0]

    def __repr__(self) -> str:
        return f"<Sweep {self.path} ({self.state})>"

"""The sweep errors: a bad config (at ``sweep()`` time, with the key path) and an unknown sweep."""

from __future__ import annotations

from tracker_core._errors import RunNotFoundError, SettingsError, TrackerError

__all__ = ["SweepConfigError", "SweepNotFoundError", "SweepStateError"]


class SweepConfigError(SettingsError):
    """A sweep config that W&B's format does not allow, named by its key path (``parameters.lr.min``)."""

    def __init__(self, path: str, problem: str, hint: str | None = None) -> None:
        self.path = path
        super().__init__(f"sweep config at {path}", problem, hint)


class SweepNotFoundError(RunNotFoundError):
    """No sweep with this id in the store."""

    def __init__(self, sweep_id: str, where: str) -> None:
        self.sweep_id = sweep_id
        super().__init__(f"no sweep {sweep_id!r} in {where}", "`tracker sweeps` lists the sweeps of a store")


class SweepStateError(TrackerError):
    """A control command that the sweep's state does not allow (resume a finished sweep...)."""

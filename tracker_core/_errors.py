"""The tracker's exceptions and warnings.

Every error the tracker raises derives from ``TrackerError``::

    TrackerError
    ├── SettingsError        (also ValueError)   a bad argument to init/define_metric/...
    │   └── ConfigChangeError                    a config value changed without allow_val_change
    ├── RunStateError                            a call that the run's state does not allow
    ├── RunLockedError                           another live process writes this run
    ├── RunExistsError                           the run id is taken and resume does not allow it
    ├── RunNotFoundError     (also LookupError)  no such run
    ├── StepOrderError       (also ValueError)   strict mode: a step lower than the current one
    ├── LogValueError        (also TypeError)    strict mode: a value that cannot be logged
    └── PersistError         (also OSError)      strict mode: a record could not be written

Warnings are ``TrackerWarning`` (a ``UserWarning``).

``RunStopped`` is not an error and not a ``TrackerError``: a ``BaseException`` raised by ``log()`` in a run
that a sweep's pruner (or ``tracker sweep cancel``) asked to stop, so that ``except Exception`` in training
code lets it through.
"""

from __future__ import annotations

__all__ = [
    "ConfigChangeError",
    "LogValueError",
    "PersistError",
    "RunExistsError",
    "RunLockedError",
    "RunNotFoundError",
    "RunStateError",
    "RunStopped",
    "SettingsError",
    "StepOrderError",
    "TrackerError",
    "TrackerWarning",
]


class TrackerError(Exception):
    """Root of every error raised by the tracker."""


class TrackerWarning(UserWarning):
    """A problem the tracker survived: something was skipped, set aside or not persisted."""


def _with_hint(message: str, hint: str | None) -> str:
    return f"{message}\nHint: {hint}" if hint else message


class SettingsError(TrackerError, ValueError):
    """A set-up argument or TRACKER_* variable has a wrong type or value."""

    def __init__(self, name: str, problem: str, hint: str | None = None) -> None:
        self.name = name
        self.problem = problem
        self.hint = hint
        super().__init__(_with_hint(f"invalid {name}: {problem}", hint))


class ConfigChangeError(SettingsError):
    """An existing config value would change without ``allow_val_change=True``."""

    def __init__(self, key: str, old: object, new: object) -> None:
        self.key, self.old, self.new = key, old, new
        super().__init__(
            f"config[{key!r}]",
            f"already set to {old!r}, refusing to change it to {new!r}",
            "pass allow_val_change=True to config.update(), or use a new key",
        )


class RunStateError(TrackerError):
    """The call needs a run in another state (for example an active one)."""

    def __init__(self, problem: str, hint: str | None = None) -> None:
        super().__init__(_with_hint(problem, hint))


class RunLockedError(TrackerError):
    """Another live process is writing the run."""

    def __init__(self, run_id: str, owner: str) -> None:
        self.run_id, self.owner = run_id, owner
        super().__init__(
            _with_hint(
                f"run {run_id!r} is being written by {owner}",
                "only one process writes a run at a time: call run.detach() in the owner "
                "to hand it over, or wait for it to finish",
            )
        )


class RunExistsError(TrackerError):
    """The requested run id already exists and resume does not allow continuing it."""

    def __init__(self, run_id: str, path: str) -> None:
        self.run_id, self.path = run_id, path
        super().__init__(
            _with_hint(
                f"run {run_id!r} already exists at {path}",
                "pass resume='allow' or resume='must' to continue it, or choose another id",
            )
        )


class RunNotFoundError(TrackerError, LookupError):
    """No run (or project) matches, or several do."""

    def __init__(self, what: str, hint: str | None = None) -> None:
        self.what = what
        super().__init__(_with_hint(what, hint))


class StepOrderError(TrackerError, ValueError):
    """Strict mode: data was logged at a step lower than the run's current step."""

    def __init__(self, keys: list[str], step: int, current: int) -> None:
        self.keys, self.step, self.current = keys, step, current
        super().__init__(
            _with_hint(
                f"{', '.join(map(repr, keys))} logged at step {step}, behind the run's "
                f"step {current}; the record was kept aside, not added to history",
                "give such metrics their own axis with define_metric(name, step_metric=...), "
                "or resume with init(resume_from_step=...) to rewind",
            )
        )


class LogValueError(TrackerError, TypeError):
    """Strict mode: a logged value cannot be encoded."""

    def __init__(self, key: object, value: object, accepted: str) -> None:
        self.key, self.value = key, value
        super().__init__(
            f"cannot log {key!r}: a value of type {type(value).__name__} is not accepted; "
            f"accepted: {accepted}"
        )


class PersistError(TrackerError, OSError):
    """Strict mode: a record could not be written to the run's log."""


class RunStopped(BaseException):
    """Raised by ``log()`` once the run was asked to stop (``run.should_stop``); the run then ends ``stopped``."""

    def __init__(self, run_id: str, reason: str) -> None:
        self.run_id = run_id
        self.reason = reason
        super().__init__(f"run {run_id} was asked to stop: {reason}")

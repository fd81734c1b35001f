"""What a run tells its user when it could not do something: once per cause, as a ``TrackerWarning``
(DESIGN principle 1), or as an error in strict mode."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from tracker_core._encoding import ACCEPTED_SCALARS, Problem
from tracker_core._errors import LogValueError, PersistError, TrackerWarning

if TYPE_CHECKING:
    from tracker_core.store._log import LogWriter

__all__ = ["Notices"]

_INACTIVE_HINTS = {
    "finished": "the run has finished; start a new one with tracker_core.init()",
    "detached": "the run was handed over with detach(); its new owner writes it",
    "forked": "this process was forked from the one that writes the run (a DataLoader worker?); "
              "only the parent writes it",
}


def warn(message: str) -> None:
    """A TrackerWarning pointing at the user's call (the collaborator's method -> Notices -> here)."""
    warnings.warn(message, TrackerWarning, stacklevel=4)


class Notices:
    """The warn-once memory of one run. ``first(marker)`` is True the first time a marker is seen."""

    def __init__(self, run_id: str, strict: bool) -> None:
        self.run_id = run_id
        self.strict = strict
        self.warned: set[object] = set()

    def first(self, marker: object) -> bool:
        if marker in self.warned:
            return False
        self.warned.add(marker)
        return True

    def report_problems(self, problems: list[Problem]) -> None:
        """Warn once per key about left-out values.

        Raises:
            LogValueError: in strict mode, for the first problem.
        """
        if self.strict:
            first = problems[0]
            raise LogValueError(first.key, first.value, ACCEPTED_SCALARS + f" ({first.reason})")
        for problem in problems:
            if self.first(("value", str(problem.key), type(problem.value).__name__)):
                warn(f"tracker: left out {problem.key!r}: {problem.reason} ({type(problem.value).__name__}); "
                     f"the rest of the row was logged. Accepted: {ACCEPTED_SCALARS}.")

    def write_failed(self, writer: LogWriter | None, may_raise: bool = True) -> None:
        """Warn once that records could not be written.

        Raises:
            PersistError: in strict mode, when ``may_raise`` (the caller is the user's thread).
        """
        if writer is None:
            return
        if self.strict and may_raise:
            raise PersistError(f"tracker: could not write to {writer.path}: {writer.last_error}")
        if self.first("write"):
            warn(f"tracker: could not write to {writer.path}: {writer.last_error}. Records that cannot be "
                 f"written are counted (run.json 'records_not_written') and training continues.")

    def internal_error(self, where: str, exc: Exception) -> None:
        if self.first(("internal", where)):
            warn(f"tracker: internal error in {where}(), the call was skipped: {exc!r}. "
                 f"Training continues; please report this.")

    def inactive_call(self, what: str, reason: str | None) -> None:
        """Warn once per reason that a call on a run that no longer writes was ignored (silent when disabled)."""
        if reason in ("disabled", "rank") or not self.first(("inactive", reason)):
            return
        warn(f"tracker: {what}() on run {self.run_id} ignored: {_INACTIVE_HINTS.get(reason or '', reason)}.")

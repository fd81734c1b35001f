"""The artifact error: ``ArtifactError`` (a ``TrackerError`` and a ``ValueError``)."""

from __future__ import annotations

from tracker_core._errors import TrackerError, _with_hint

__all__ = ["ArtifactError"]


class ArtifactError(TrackerError, ValueError):
    """A bad artifact name, alias, path or reference, or a missing or corrupted stored file.

    The message states the problem and ends with a "Hint:" line saying what to do.
    """

    def __init__(self, problem: str, hint: str | None = None) -> None:
        self.problem, self.hint = problem, hint
        super().__init__(_with_hint(problem, hint))

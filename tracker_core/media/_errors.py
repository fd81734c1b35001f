"""The media error: ``MediaError`` (a ``TrackerError`` and a ``TypeError``)."""

from __future__ import annotations

from tracker_core._errors import TrackerError

__all__ = ["MediaError"]


class MediaError(TrackerError, TypeError):
    """A media value (Image, Table, ...) cannot be built or encoded from what was given.

    The message names the value, what was given, the accepted forms and, where one
    helps, a "Hint:" line with the fix.
    """

    def __init__(self, what: str, given: str, accepted: str, hint: str | None = None) -> None:
        self.what, self.given, self.accepted, self.hint = what, given, accepted, hint
        message = f"invalid {what}: got {given}; accepted: {accepted}"
        super().__init__(f"{message}\nHint: {hint}" if hint else message)

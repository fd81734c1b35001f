"""The server's errors: each becomes ``{"error": code, "detail": text, ...}`` with its HTTP status."""

from __future__ import annotations

from typing import Any

from tracker_core._errors import TrackerError

__all__ = ["ApiError", "SchemaError"]


class SchemaError(TrackerError):
    """The database's schema cannot be used by this server (e.g. it is newer than this code)."""


class ApiError(Exception):
    """A request the server refuses; ``extra`` fields join the JSON body."""

    def __init__(self, status: int, error: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.extra = status, error, detail, extra

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "detail": self.detail, **self.extra}


def not_found(what: str) -> ApiError:
    """The one answer for a missing thing and for another team's thing."""
    return ApiError(404, "not_found", f"no such {what}")

"""HTTP calls to the team server's API v1 (see the server's ``/openapi.json``).

requests is imported when the first client is built, never at ``import tracker_core``. The API
key travels only in the ``Authorization`` header; no message this module builds contains it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from tracker_core._errors import TrackerError
from tracker_core._retry_after import retry_after

__all__ = ["ServerClient", "ServerError"]

_RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


class ServerError(TrackerError):
    """The server could not be reached (``status`` None) or answered with an error status."""

    def __init__(self, what: str, status: int | None, body: Mapping[str, Any] | None = None,
                 reason: str | None = None, retry_after: float | None = None) -> None:
        self.what = what
        self.status = status
        self.body: dict[str, Any] = dict(body or {})
        self.code: str | None = self.body.get("error") if isinstance(self.body.get("error"), str) else None
        self.retry_after = retry_after
        detail = reason or self.body.get("detail") or self.code or "no detail"
        shown = f"HTTP {status}" if status is not None else "unreachable"
        hint = ("\nHint: the API key is missing, wrong or revoked: pass api_key=, set TRACKER_API_KEY, or run "
                "`tracker login URL`") if status == 401 else ""
        super().__init__(f"{what}: {shown}: {detail}{hint}")

    @property
    def retryable(self) -> bool:
        """Worth another try later: no answer, a timeout, throttling or a server-side failure."""
        return self.status is None or self.status in _RETRYABLE


def segment(text: str) -> str:
    """One URL path segment (a team, project or run id), quoted."""
    return quote(text, safe="")


class ServerClient:
    """A connection pool to one server, authenticated with one key; thread-safe for one caller at a time."""

    def __init__(self, url: str, key: str | None, timeout: float = 30.0) -> None:
        import requests

        self.url = url.rstrip("/")
        self.timeout = timeout
        self._requests = requests
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "tracker-client/1"
        if key:
            self._session.headers["Authorization"] = f"Bearer {key}"

    def __repr__(self) -> str:
        return f"<ServerClient {self.url}>"

    def call(self, method: str, path: str, what: str, *, json: Any = None, data: bytes | Any = None,
             headers: Mapping[str, str] | None = None, params: Any = None, timeout: float | None = None,
             raw: bool = False) -> Any:
        """One request; the decoded JSON answer (or the bytes when ``raw``).

        Raises:
            ServerError: no answer, or a status of 400 and above (with the server's error body).
        """
        try:
            response = self._session.request(method, self.url + path, json=json, data=data, headers=headers,
                                             params=params, timeout=timeout or self.timeout)
        except self._requests.RequestException as exc:
            raise ServerError(what, None, reason=f"{type(exc).__name__} talking to {self.url}") from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text[:200]}
            raise ServerError(what, response.status_code, body if isinstance(body, dict) else None,
                              retry_after=retry_after(response.headers.get("Retry-After")))
        if raw:
            return response.content
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise ServerError(what, response.status_code, reason="the answer is not JSON") from None

    def close(self) -> None:
        self._session.close()

    # ----- the routes ---------------------------------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        """``{"user", "key_name", "teams": [{"name", "role"}]}``; raises ServerError."""
        return dict(self.call("GET", "/api/v1/whoami", "checking the API key"))

    def run_path(self, entity: str, project: str, run_id: str) -> str:
        return f"/api/v1/runs/{segment(entity)}/{segment(project)}/{segment(run_id)}"

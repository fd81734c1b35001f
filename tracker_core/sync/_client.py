"""HTTP calls to the team server's API v1 (see the server's ``/openapi.json``).

A kept-alive ``http.client`` connection per client and calling thread: a request costs a quarter of
the CPU that a requests session took (0.42 against 1.62 ms here, ``benchmarks/bench_client.py``).
Proxies come from the environment as for any HTTP client (``http_proxy``, ``https_proxy``,
``no_proxy``); HTTPS is verified against the system's certificates (``SSL_CERT_FILE`` to add one).
The API key travels only in the ``Authorization`` header; no message this module builds contains it.
"""

from __future__ import annotations

import http.client
import os
import select
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import orjson

from tracker_core._errors import TrackerError
from tracker_core._retry_after import retry_after

__all__ = ["ServerClient", "ServerError"]

_RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
_BLOCK = 1 << 20  # bytes of a file body read and sent at a time (http.client: 8 KiB)


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
    """Kept-alive connections to one server (one per calling thread), authenticated with one key.
    Nothing is sent before the first call (which raises ServerError if ``url`` is not http(s)://)."""

    def __init__(self, url: str, key: str | None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        parts = urlsplit(self.url)
        self._not_http = None if parts.scheme in ("http", "https") and parts.hostname else \
            f"{url!r} is not an http:// or https:// URL"
        self._key = key
        self._headers = {"User-Agent": "tracker-client/1", "Accept-Encoding": "identity"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "", parts.port or (443 if self._https else 80)
        self._prefix = parts.path  # a server mounted under a path
        self._proxy = _proxy_for(parts.scheme, self._host) if self._not_http is None else None
        self._connections: dict[int, http.client.HTTPConnection] = {}  # by thread id

    def __repr__(self) -> str:
        return f"<ServerClient {self.url}>"

    def another(self) -> ServerClient:
        """A client with its own connections to the same server, with the same key."""
        return ServerClient(self.url, self._key, self.timeout)

    def call(self, method: str, path: str, what: str, *, json: Any = None, data: bytes | Any = None,
             headers: Mapping[str, str] | None = None, params: Any = None, timeout: float | None = None,
             raw: bool = False) -> Any:
        """One request (``data``: bytes or a file opened for reading); the decoded JSON answer (or the
        bytes when ``raw``).

        Raises:
            ServerError: no answer, or a status of 400 and above (with the server's error body).
        """
        sent = dict(self._headers)
        if json is not None:
            data = orjson.dumps(json, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
            sent["Content-Type"] = "application/json"
        if headers:
            sent.update(headers)
        target = path + (f"?{urlencode(params, doseq=True)}" if params else "")
        try:
            response = self._request(what, method, target, data, sent, timeout or self.timeout)
            content = self._read_all(response)
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(what, exc) from None
        if response.status >= 400:
            raise _refusal(what, response, content)
        if raw:
            return content
        if not content:
            return {}
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            raise ServerError(what, response.status, reason="the answer is not JSON") from None

    def download(self, path: str, what: str, chunk_size: int) -> Iterator[bytes]:
        """The body of ``GET path``, in chunks as they arrive.

        Raises:
            ServerError: no answer, or a status of 400 and above.
        """
        response: http.client.HTTPResponse | None = None
        try:
            response = self._request(what, "GET", path, None, dict(self._headers), self.timeout)
            if response.status >= 400:
                raise _refusal(what, response, self._read_all(response))
            while chunk := response.read(chunk_size):
                yield chunk
            self._read_all(response)
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(what, exc) from None
        finally:
            if response is not None and not response.isclosed():
                self._drop()  # left unread (the caller stopped early): the connection cannot be reused

    def _request(self, what: str, method: str, target: str, data: Any, headers: dict[str, str],
                 timeout: float) -> http.client.HTTPResponse:
        if self._not_http is not None:
            raise ServerError(what, None, reason=self._not_http)
        if data is None:
            data = b""
        headers["Content-Length"] = str(len(data) if isinstance(data, bytes | bytearray)
                                        else os.fstat(data.fileno()).st_size - data.tell())
        thread = threading.get_ident()
        connection = self._connections.get(thread)
        if connection is None or _closed_by_peer(connection):
            self._drop()
            connection = self._connections[thread] = self._connect(timeout)
        elif connection.sock is not None:
            connection.sock.settimeout(timeout)
        target = self._prefix + target
        if self._proxy is not None and not self._https:
            target = f"http://{self._host}:{self._port}{target}"  # a plain-HTTP proxy takes the whole URL
            headers.update(self._proxy[2])
        connection.request(method, target, body=data, headers=headers)
        return connection.getresponse()

    def _unreachable(self, what: str, exc: Exception) -> ServerError:
        """The error for a request that got no answer; this thread's connection is dropped."""
        self._drop()
        return ServerError(what, None, reason=f"{type(exc).__name__} talking to {self.url}")

    def _read_all(self, response: http.client.HTTPResponse) -> bytes:
        content = response.read()
        if response.will_close:
            self._drop()
        return content

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._proxy is None:
            host, port = self._host, self._port
        else:
            host, port, _ = self._proxy
        if not self._https:
            return http.client.HTTPConnection(host, port, timeout=timeout, blocksize=_BLOCK)
        import ssl

        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl.create_default_context(),
                                                 blocksize=_BLOCK)
        if self._proxy is not None:
            connection.set_tunnel(self._host, self._port, headers=self._proxy[2])
        return connection

    def close(self) -> None:
        """Close every thread's connection (a later call opens another)."""
        while self._connections:
            self._connections.popitem()[1].close()

    def _drop(self) -> None:
        """Close the calling thread's connection, if it has one."""
        connection = self._connections.pop(threading.get_ident(), None)
        if connection is not None:
            connection.close()

    # ----- the routes ---------------------------------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        """``{"user", "key_name", "teams": [{"name", "role"}]}``; raises ServerError."""
        return dict(self.call("GET", "/api/v1/whoami", "checking the API key"))

    def run_path(self, entity: str, project: str, run_id: str) -> str:
        return f"/api/v1/runs/{segment(entity)}/{segment(project)}/{segment(run_id)}"


def _refusal(what: str, response: http.client.HTTPResponse, content: bytes) -> ServerError:
    """The error for an answer of 400 and above, with the server's JSON error body when it sent one."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        body = {"detail": content[:200].decode("utf-8", errors="replace")}
    return ServerError(what, response.status, body if isinstance(body, dict) else None,
                       retry_after=retry_after(response.getheader("Retry-After")))


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """True if a kept-alive connection was closed by the server while idle (it reads as ready, at EOF)."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _proxy_for(scheme: str, host: str) -> tuple[str, int, dict[str, str]] | None:
    """(host, port, headers) of the environment's proxy for ``scheme://host``; None to connect directly."""
    import urllib.request

    proxy = urllib.request.getproxies().get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if not parts.hostname:
        return None
    headers: dict[str, str] = {}
    if parts.username is not None:
        import base64

        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(pair).decode()
    return parts.hostname, parts.port or 8080, headers

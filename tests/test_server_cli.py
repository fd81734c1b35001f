"""``tracker server``: found through the tracker.commands entry point, keys printed once, and a database
whose schema is newer than the code refused with a clear error."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from _server import Server, server_cli

import tracker_server
from tracker_server._schema import HEAD

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_tracker_finds_the_server_command_through_its_entry_point(tmp_path: Path) -> None:
    dist = tmp_path / "site" / "tracker_server_plugin-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tracker-server-plugin\nVersion: 0\n")
    (dist / "entry_points.txt").write_text("[tracker.commands]\nserver = tracker_server.cli:main\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(ROOT)])}
    done = subprocess.run([sys.executable, "-m", "tracker_core.cli", "server", "keys", "create", "--team", "research",
                           "--name", "sf-gpu-box", "--data", str(tmp_path / "data")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith("API key for sf-gpu-box (member of research)") and line.split()[-1].startswith("trk_")
    help_text = subprocess.run([sys.executable, "-m", "tracker_core.cli", "server", "--help"], capture_output=True,
                               text=True, env=env, timeout=60)
    assert "--workers" in help_text.stdout and "--blobs" in help_text.stdout


def test_a_database_newer_than_the_code_is_refused(tmp_path: Path, db_url: str | None) -> None:
    data = tmp_path / "data"
    assert server_cli(data, "keys", "list", db=db_url).returncode == 0  # creates and upgrades the schema
    if db_url is None:
        with sqlite3.connect(data / "tracker.db") as connection:
            connection.execute("UPDATE alembic_version SET version_num = '9999'")
    else:
        import psycopg

        with psycopg.connect(db_url, autocommit=True) as connection:
            connection.execute("UPDATE alembic_version SET version_num = '9999'")
    server = Server(data, db=db_url)
    with pytest.raises(AssertionError, match=r"(?s)revision '9999', newer than this server knows.*Hint"):
        server.start()
    assert server.proc is not None and server.proc.returncode == 2


def test_the_embedded_server_starts_on_an_existing_database_and_names_where_it_keeps_things(tmp_path: Path) -> None:
    server = Server(tmp_path / "data").start()
    server.kill()
    server.start()
    server.kill()
    text = server.log.read_text()
    assert f"schema {HEAD}" in text and str(tmp_path / "data") in text and "blobs" in text
    assert (tmp_path / "data" / "tracker.db").exists()
    assert tracker_server.__all__ == ["ServerConfig", "create_app"]


def test_the_schema_constants_name_the_shipped_migrations() -> None:
    from alembic.script import ScriptDirectory

    from tracker_server._schema import HEAD, KNOWN, alembic_config

    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_current_head() == HEAD
    assert sorted(s.revision for s in scripts.walk_revisions()) == sorted(KNOWN)


def test_the_migrations_build_the_schema_the_models_describe(tmp_path: Path, db_url: str | None) -> None:
    """Upgraded from nothing, the database has every table, column, index and key of the models, and
    nothing else (Alembic's own comparison), on SQLite and on PostgreSQL."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from tracker_server._config import database_url
    from tracker_server._database import Database
    from tracker_server._models import Base
    from tracker_server._schema import HEAD, upgrade

    db = Database(database_url(db_url, str(tmp_path)))
    try:
        assert upgrade(db) == HEAD
        with db.writer.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            if not db.is_sqlite:  # the packed arrays are stored as they are, never compressed on a rewrite
                storage = dict(connection.exec_driver_sql(
                    "SELECT attname, attstorage FROM pg_attribute WHERE attrelid = 'series_chunks'::regclass "
                    "AND attname IN ('steps', 'times', 'values')").all())
                assert storage == {"steps": "e", "times": "e", "values": "e"}
    finally:
        db.dispose()
    assert differences == []

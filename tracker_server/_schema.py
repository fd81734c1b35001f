"""The schema's version: the server upgrades its database on start and refuses one newer than it knows.

``HEAD`` and ``KNOWN`` name the shipped migrations (a test checks them against Alembic's scripts), so a
start on an up-to-date database reads one row and never imports Alembic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from tracker_server._database import Database
from tracker_server._errors import SchemaError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

__all__ = ["HEAD", "KNOWN", "alembic_config", "current_revision", "head_revision", "upgrade"]

HEAD = "0008"
KNOWN = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008")
_LOCK_ID = 0x7472616B  # PostgreSQL advisory lock held while migrating (several servers may start at once)


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "tracker_server:migrations")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return HEAD


def _revision(connection: Connection) -> str | None:
    try:
        found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError):  # no such table: an empty database
        connection.rollback()
        return None
    return str(found) if found is not None else None


def current_revision(db: Database) -> str | None:
    with db.writer.connect() as connection:
        return _revision(connection)


def _check_known(revision: str | None) -> None:
    if revision is not None and revision not in KNOWN:
        raise SchemaError(f"the database's schema is at revision {revision!r}, newer than this server knows "
                          f"(its newest is {HEAD!r})\nHint: run a tracker version at least as new as the "
                          "one that last upgraded this database")


def upgrade(db: Database) -> str:
    """Bring the database to this code's schema; returns the revision.

    Raises:
        SchemaError: the database was upgraded by a newer server.
    """
    revision = current_revision(db)
    _check_known(revision)
    if revision == HEAD:
        return HEAD
    from alembic import command

    with db.writer.connect() as connection:
        if not db.is_sqlite:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
            connection.commit()
        try:
            revision = _revision(connection)
            _check_known(revision)
            if revision != HEAD:
                connection.commit()
                command.upgrade(alembic_config(connection), "head")
                connection.commit()
        finally:
            if not db.is_sqlite:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
                connection.commit()
    return HEAD

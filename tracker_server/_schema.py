"""The schema's version: the server upgrades its database on start and refuses one newer than it knows."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from tracker_server._database import Database
from tracker_server._errors import SchemaError

__all__ = ["current_revision", "head_revision", "upgrade"]

_LOCK_ID = 0x7472616B  # PostgreSQL advisory lock held while migrating (several servers may start at once)


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "tracker_server:migrations")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise SchemaError("the server ships no migrations")
    return head


def current_revision(db: Database) -> str | None:
    with db.writer.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _check_known(revision: str | None) -> None:
    known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
    if revision is not None and revision not in known:
        raise SchemaError(f"the database's schema is at revision {revision!r}, newer than this server knows "
                          f"(its newest is {head_revision()!r})\nHint: run a tracker version at least as new as the "
                          "one that last upgraded this database")


def upgrade(db: Database) -> str:
    """Bring the database to this code's schema; returns the revision.

    Raises:
        SchemaError: the database was upgraded by a newer server.
    """
    head = head_revision()
    revision = current_revision(db)
    _check_known(revision)
    if revision == head:
        return head
    with db.writer.connect() as connection:
        if not db.is_sqlite:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
            connection.commit()
        try:
            revision = MigrationContext.configure(connection).get_current_revision()
            _check_known(revision)
            if revision != head:
                command.upgrade(_config(connection), "head")
                connection.commit()
        finally:
            if not db.is_sqlite:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
                connection.commit()
    return head

"""Engines and sessions. SQLite runs in WAL mode and takes its write lock when a write begins,
so two writers never deadlock on a lock upgrade; PostgreSQL locks the run row it changes.

SQLite has one writer at a time. Within a process, writers queue on a lock of their own: SQLite's
busy handler would make each waiter sleep ever longer (up to 100 ms a try) and leave the database
idle between writes. Other processes (``--workers``) still meet SQLite's busy timeout.
``synchronous=NORMAL`` in WAL mode never corrupts the database; a commit survives a crash of the
server process, and only a power loss or OS crash can undo the last commits before a checkpoint.
The client keeps every record until the server acknowledges it, and resends from the server's
``acked_seq``, so what such a loss undoes on the server is sent again, not lost."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Database"]

_BUSY_TIMEOUT = 30.0


class Database:
    """The server's database; ``read()`` and ``write()`` give sessions committed on success."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[1]
            if path and path != ":memory:":
                os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            self.reader = self._sqlite_engine(url, "BEGIN")
            self.writer = self._sqlite_engine(url, "BEGIN IMMEDIATE")
        else:
            self.reader = self.writer = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        self._read = sessionmaker(self.reader, expire_on_commit=False)
        self._write = sessionmaker(self.writer, expire_on_commit=False)
        self._write_lock = threading.Lock() if self.is_sqlite else None

    @staticmethod
    def _sqlite_engine(url: str, begin: str) -> Engine:
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": _BUSY_TIMEOUT})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # the driver's own BEGIN off: ours below
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT * 1000)}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            connection.exec_driver_sql(begin)

        return engine

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back (nothing stored) on an error."""
        if self._write_lock is None:
            with self._write() as session, session.begin():
                yield session
            return
        if not self._write_lock.acquire(timeout=_BUSY_TIMEOUT):  # as long as SQLite's own busy timeout
            raise TimeoutError(f"the database stayed locked by another write for {_BUSY_TIMEOUT:.0f} s")
        try:
            with self._write() as session, session.begin():
                yield session
        finally:
            self._write_lock.release()

    def dispose(self) -> None:
        self.reader.dispose()
        if self.writer is not self.reader:
            self.writer.dispose()

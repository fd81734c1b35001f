"""Engines and sessions. SQLite runs in WAL mode and takes its write lock when a write begins,
so two writers never deadlock on a lock upgrade; PostgreSQL locks the run row it changes.

SQLite has one writer at a time. Writers queue on a lock of their own: SQLite's busy handler would
make each waiter sleep ever longer (up to 100 ms a try) and leave the database idle between writes.
Within a process the lock is a thread lock; across processes (``--workers``) it is an ``flock`` on
``<database>.writelock`` beside the database file, taken after the thread lock and released after
the commit. The kernel drops that lock when its process dies, so a crashed worker never holds it.
``synchronous=NORMAL`` in WAL mode never corrupts the database; a commit survives a crash of the
server process, and only a power loss or OS crash can undo the last commits before a checkpoint.
The client keeps every record until the server acknowledges it, and resends from the server's
``acked_seq``, so what such a loss undoes on the server is sent again, not lost.

SQLite's own checkpoint (copying the WAL into the database file) would run inside the commit of
every write that grows the WAL past 1,000 pages, while the writers' lock is held: a quarter of an
ingest batch's time under the lock. Writes here turn it off and, every ``CHECKPOINT_EVERY`` commits
of a process, run a passive checkpoint after both locks are let go; it copies what it can beside
the next writer and readers, never waiting for them."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["CHECKPOINT_EVERY", "Database"]

_BUSY_TIMEOUT = 30.0
CHECKPOINT_EVERY = 8  # commits of one process between its checkpoints (8 ingest batches: about SQLite's 1,000 pages)


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
            self.writer = self._sqlite_engine(url, "BEGIN IMMEDIATE", "PRAGMA wal_autocheckpoint=0")
        else:
            self.reader = self.writer = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        self._read = sessionmaker(self.reader, expire_on_commit=False)
        self._write = sessionmaker(self.writer, expire_on_commit=False)
        self._write_lock = threading.Lock() if self.is_sqlite else None
        path = url.split("///", 1)[1] if self.is_sqlite else ""
        self._lock_path = path + ".writelock" if path and path != ":memory:" and "mode=memory" not in path else None
        self._lock_fd: int | None = None
        self._lock_pid = 0
        self._commits = 0

    @staticmethod
    def _sqlite_engine(url: str, begin: str, *pragmas: str) -> Engine:
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": _BUSY_TIMEOUT})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # the driver's own BEGIN off: ours below
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT * 1000)}")
            for pragma in pragmas:
                cursor.execute(pragma)
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
            fd = self._process_lock()
            try:
                with self._write() as session, session.begin():
                    yield session
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._write_lock.release()
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Copy what the WAL holds into the database file, as far as readers and a writer allow, without
        waiting for them (SQLite's passive checkpoint; one already running elsewhere makes it return)."""
        connection = self.writer.raw_connection()  # the driver's own: no BEGIN, a checkpoint needs none
        try:
            connection.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").close()  # type: ignore[union-attr]
        finally:
            connection.close()

    def _process_lock(self) -> int | None:
        """Take the cross-process writer lock (blocking); its descriptor, or None for a database without a
        file. Opened once per process: a descriptor inherited over ``fork`` is shared with the parent, and an
        ``flock`` on it would not exclude the parent. Raises OSError if the lock file cannot be opened."""
        if self._lock_path is None:
            return None
        if self._lock_fd is None or self._lock_pid != os.getpid():
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # the parent's, inherited: closing it here leaves the parent's lock be
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self._lock_pid = os.getpid()
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        return self._lock_fd

    def dispose(self) -> None:
        if self._lock_fd is not None and self._lock_pid == os.getpid():
            os.close(self._lock_fd)
        self._lock_fd = None
        self.reader.dispose()
        if self.writer is not self.reader:
            self.writer.dispose()

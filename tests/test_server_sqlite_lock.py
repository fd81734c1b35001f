"""SQLite writers in several server processes (``--workers``) queue on one cross-process lock beside the
database instead of sleeping in SQLite's busy handler; a forked process takes it on its own descriptor."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from tracker_server._database import CHECKPOINT_EVERY, Database


def _lock_is_free(path: str) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing the descriptor drops a lock taken here
    return True


def test_a_write_holds_the_lock_file_until_it_commits(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'tracker.db'}")
    try:
        with db.write() as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
            assert not _lock_is_free(str(tmp_path / "tracker.db.writelock"))
        assert _lock_is_free(str(tmp_path / "tracker.db.writelock"))
    finally:
        db.dispose()


def _forked_write(db: Database, go: Any, done: multiprocessing.Queue[float]) -> None:
    go.wait(30)
    with db.write() as session:
        session.execute(text("INSERT INTO t VALUES (2)"))
    done.put(time.monotonic())


def test_a_forked_process_waits_for_the_parents_write(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'tracker.db'}")
    try:
        with db.write() as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))  # the parent's descriptor is open from here on
        context = multiprocessing.get_context("fork")
        go, done = context.Event(), context.Queue()
        child = context.Process(target=_forked_write, args=(db, go, done))
        child.start()  # forked between writes, as the server forks its workers
        with db.write() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            go.set()
            time.sleep(0.5)
            assert done.empty()  # the child queues on the lock while the parent's write is open
            released = time.monotonic()
        finished = done.get(timeout=30)
        child.join(30)
        assert child.exitcode == 0 and finished >= released
        with db.read() as session:
            assert sorted(session.execute(text("SELECT x FROM t")).scalars()) == [1, 2]
    finally:
        db.dispose()


def test_writes_checkpoint_the_wal_after_their_locks_are_let_go(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    db = Database(f"sqlite:///{path}")
    try:
        with db.write() as session:
            session.execute(text("CREATE TABLE t (x BLOB)"))
        assert CHECKPOINT_EVERY <= 16
        for _ in range(64):  # 64 commits of 256 KiB: 16 MiB of WAL frames if none is copied back
            with db.write() as session:
                session.execute(text("INSERT INTO t VALUES (randomblob(262144))"))
        with db.reader.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 64
        # checkpointed every CHECKPOINT_EVERY commits and then written from its start again: about 2 MiB
        assert os.path.getsize(f"{path}-wal") < 6 * 2**20
        assert os.path.getsize(path) > 15 * 2**20  # what the commits wrote reached the database file
    finally:
        db.dispose()


def test_a_commit_does_not_checkpoint_while_it_holds_the_locks(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    db = Database(f"sqlite:///{path}")
    try:
        with db.write() as session:
            session.execute(text("CREATE TABLE t (x BLOB)"))
        assert 6 <= CHECKPOINT_EVERY <= 16
        for _ in range(5):  # short of the first checkpoint: SQLite's own (at 4 MiB of WAL) would have run by now
            with db.write() as session:
                session.execute(text("INSERT INTO t VALUES (randomblob(1048576))"))
        assert os.path.getsize(path) < 2**20  # every frame still in the WAL
    finally:
        db.dispose()

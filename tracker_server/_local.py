"""The local UI's data: a local store's runs imported into an embedded server database, and kept up to date.

``tracker ui`` runs the team server's app over a SQLite database in a cache folder. An ``Importer``
thread feeds it through the server's own ingest path (the same functions the ingest routes call):
each run's ``run.json``, the complete lines of its ``events.jsonl`` after the acknowledged seq, and its
``media/`` and ``files/`` as blobs, and the store's sweeps (``SweepMirror``). It polls the store, so live
runs appear and grow in the UI, and a run whose folder is gone (deleted, or the store made anew at the same
path) leaves it; it reads, never writes, the store.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import delete, exists, select

from tracker_server._deps import Scope, ServerState
from tracker_server._errors import ApiError
from tracker_server._models import ArtifactCollection, Project, Run, Sweep

__all__ = ["Importer", "cache_folder"]

_log = logging.getLogger("tracker_server.local")
_BATCH_BYTES = 4 << 20
_FILE_FOLDERS = ("media", "files")
_FILE_EVERY = 2.0  # seconds between re-reads of a run's files while it changes


def cache_folder(store: str) -> str:
    """The embedded database's folder for ``store``: ``$XDG_CACHE_HOME/tracker/ui/<digest of its path>``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256(os.path.abspath(store).encode()).hexdigest()[:16]
    return os.path.join(base, "tracker", "ui", digest)


@dataclass
class _Tail:
    offset: int = 0  # bytes of events.jsonl consumed
    meta_mtime: float = -1.0
    files_at: float = 0.0
    files: dict[str, tuple[int, float]] | None = None  # path -> (size, mtime) as last mapped


class Importer:
    """Imports every run of the store at ``root`` into ``state`` under ``scope``'s team, then follows them."""

    def __init__(self, root: str, state: ServerState, scope: Scope, interval: float = 0.25) -> None:
        self.root, self.state, self.scope, self.interval = Path(root), state, scope, interval
        self.tails: dict[Path, _Tail] = {}
        self._folders: set[tuple[str, str]] | None = None  # the (project, run id) folders of the last scan
        from tracker_server._local_sweeps import SweepMirror

        self.sweeps = SweepMirror(self.root, state, scope)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="tracker-ui-importer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan()
            except Exception:  # noqa: BLE001  # the UI keeps serving what it has; the next scan retries
                _log.exception("importing %s failed", self.root)
            self._stop.wait(self.interval)

    def scan(self) -> int:
        """One pass over the store; returns how many runs changed."""
        changed = 0
        if not self.root.is_dir():
            return 0
        try:  # the sweeps first: a new trial's run then finds its trial in the UI
            self.sweeps.scan()
        except (OSError, sqlite3.Error, ValueError, KeyError) as error:  # a store's file being written; next scan
            _log.warning("the sweeps of %s cannot be imported yet: %s", self.root, error)
        folders: set[tuple[str, str]] = set()
        for project in sorted(self.root.iterdir()):
            if not project.is_dir() or project.name.startswith(".") or project.name == "artifacts":
                continue
            for run_dir in sorted(project.iterdir()):
                if (run_dir / "events.jsonl").is_file():
                    folders.add((project.name, run_dir.name))
                    try:
                        changed += self._import_run(project.name, run_dir)
                    except ApiError as error:  # one unreadable run does not stop the others
                        _log.warning("run %s cannot be imported: %s", run_dir, error.detail)
        if self._folders is None or not folders >= self._folders:  # at start, and when a folder went away
            changed += self._drop_vanished(folders)
        self._folders = folders
        return changed

    def _drop_vanished(self, folders: set[tuple[str, str]]) -> int:
        """Deletes from the database the runs with no folder in ``folders`` (their records, series, files and
        the rest go with them), then the projects left with no run, sweep, artifact or folder; returns how many
        runs went."""
        with self.state.db.write() as session:
            rows = session.execute(select(Run.id, Project.name, Run.run_id).join(Project, Run.project_id == Project.id)
                                   .where(Project.team_id == self.scope.team_id)).all()
            gone = [(pk, project, run_id) for pk, project, run_id in rows if (project, run_id) not in folders]
            for start in range(0, len(gone), 500):
                session.execute(delete(Run).where(Run.id.in_([pk for pk, _, _ in gone[start:start + 500]])))
            empty = [pk for pk, name in session.execute(
                select(Project.id, Project.name).where(Project.team_id == self.scope.team_id,
                                                       ~exists().where(Run.project_id == Project.id),
                                                       ~exists().where(Sweep.project_id == Project.id),
                                                       ~exists().where(ArtifactCollection.project_id == Project.id)))
                     if not (self.root / name).is_dir()]
            if empty:
                session.execute(delete(Project).where(Project.id.in_(empty)))
        for _, project, run_id in gone:
            self.tails.pop(self.root / project / run_id, None)
            _log.info("run %s/%s left the store: removed from the UI", project, run_id)
        return len(gone)

    def _import_run(self, project: str, run_dir: Path) -> bool:
        from tracker_server.routers.ingest import _ingest, _put_run

        tail = self.tails.setdefault(run_dir, _Tail())
        log = run_dir / "events.jsonl"
        meta_path = run_dir / "run.json"
        meta_mtime = meta_path.stat().st_mtime if meta_path.is_file() else 0.0
        size = log.stat().st_size
        if size < tail.offset:  # the log was repaired (a torn tail cut) or replaced: read it again
            tail.offset = 0
        if size == tail.offset and meta_mtime == tail.meta_mtime and not self._files_due(run_dir, tail):
            return False
        if meta_mtime != tail.meta_mtime or tail.offset == 0:
            acked = _put_run(self.state, self.scope, project, run_dir.name, _read_meta(meta_path))
            tail.meta_mtime = meta_mtime
        else:
            acked = -1
        if size > tail.offset:
            with open(log, "rb") as handle:
                handle.seek(tail.offset)
                data = handle.read(size - tail.offset)
            complete = data[: data.rfind(b"\n") + 1]  # a torn last line waits for its end
            start = 0
            while start < len(complete):
                end = complete.find(b"\n", min(start + _BATCH_BYTES, len(complete) - 1)) + 1 or len(complete)
                chunk = complete[start:end]
                if acked >= 0:
                    chunk = _after(chunk, acked)
                try:
                    _ingest(self.state, self.scope, project, run_dir.name, chunk)
                except ApiError as error:
                    if error.error == "seq_gap":  # read from the start; what the database holds is skipped
                        tail.offset = 0
                        return True
                    raise
                start = end
            tail.offset += len(complete)
        self._map_files(project, run_dir, tail)
        return True

    def _files_due(self, run_dir: Path, tail: _Tail) -> bool:
        return time.monotonic() - tail.files_at >= _FILE_EVERY

    def _map_files(self, project: str, run_dir: Path, tail: _Tail) -> None:
        from tracker_server.routers.blobs import _record
        from tracker_server.routers.ingest import FileEntry, FilesPut, put_files

        if not self._files_due(run_dir, tail):
            return
        tail.files_at = time.monotonic()
        known = tail.files if tail.files is not None else {}
        changed: dict[str, FileEntry] = {}
        for folder in _FILE_FOLDERS:
            base = run_dir / folder
            if not base.is_dir():
                continue
            for path in base.rglob("*"):
                if not path.is_file():
                    continue
                relative = path.relative_to(run_dir).as_posix()
                stat = path.stat()
                if known.get(relative) == (stat.st_size, stat.st_mtime):
                    continue
                digest = _sha256(path)
                _record(self.state, self.scope, digest, stat.st_size, str(path))
                changed[relative] = FileEntry(sha256=digest, size=stat.st_size)
                known[relative] = (stat.st_size, stat.st_mtime)
        tail.files = known
        if changed:
            put_files(self.scope.team, project, run_dir.name, FilesPut(files=changed), self.scope, self.state)


def _after(chunk: bytes, acked: int) -> bytes:
    """The lines of ``chunk`` whose seq is above ``acked`` (a restarted UI resumes where its database is)."""
    if acked <= 0:
        return chunk
    lines = chunk.split(b"\n")
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            seq = orjson.loads(line).get("seq")
        except orjson.JSONDecodeError:
            return b"\n".join(lines[index:])  # the ingest path reports it
        if isinstance(seq, int) and seq > acked:
            return b"\n".join(lines[index:])
    return b""


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

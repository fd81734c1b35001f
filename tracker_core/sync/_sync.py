"""``tracker sync``: finish the upload of every run in a local store that the server lacks.

A run needs syncing when it has no sync state for this server, when its log holds complete
records past the acknowledged offset, or when its files were not all uploaded after it ended.
Runs still being written (their writer lock is held) are left to their own uploader. Each
run is sent from the server's high-water mark, so a second sync, or a sync after a kill in
the middle of an upload, sends nothing twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple

from tracker_core.store._lock import WriterLock
from tracker_core.store._run_dir import RunDir
from tracker_core.sync._client import ServerClient, ServerError
from tracker_core.sync._retry import retrying
from tracker_core.sync._state import SyncState, complete_size
from tracker_core.sync._upload import RunUpload

__all__ = ["RunSync", "needs_sync", "store_runs", "sync_run"]


class RunSync(NamedTuple):
    """What syncing one run did."""

    path: str
    records: int
    blobs: int
    files: int
    acked_seq: int
    error: str | None = None
    unreachable: bool = False


def store_runs(root: str) -> Iterator[RunDir]:
    """Every run folder of a store, project by project."""
    try:
        projects = sorted(os.listdir(root))
    except OSError:
        return
    for project in projects:
        folder = os.path.join(root, project)
        if project.startswith(".") or project == "artifacts" or not os.path.isdir(folder):
            continue
        for run_id in sorted(os.listdir(folder)):
            run_dir = RunDir(root, project, run_id)
            if not run_id.startswith(".") and run_dir.exists():
                yield run_dir


def needs_sync(run_dir: RunDir, server: str) -> bool:
    state = SyncState.load(run_dir.path)
    if state is None or state.server != server.rstrip("/"):
        return True
    return state.offset < complete_size(run_dir.events) or not state.files_done


def being_written(run_dir: RunDir) -> bool:
    """Whether a live process holds the run's writer lock (then its own uploader sends it)."""
    lock = WriterLock(run_dir.lock)
    try:
        if lock.try_acquire(f"pid {os.getpid()} (tracker sync, checking)", patience=0.0):
            lock.release()
            return False
    except OSError:
        return False
    return True


def sync_run(client: ServerClient, run_dir: RunDir, entity: str | None = None, attempts: int = 5,
             sleep: Callable[[float], None] = time.sleep) -> RunSync:
    """Upload what the server lacks of one run; errors are returned, not raised."""
    meta = run_dir.read_meta() or {}
    upload = RunUpload(client, run_dir.path, run_dir.project, run_dir.run_id, lambda: meta,
                       entity=meta.get("entity") or entity)
    path = f"{run_dir.project}/{run_dir.run_id}"
    files = 0
    try:
        retrying(upload.open, sleep, attempts=attempts)
        while retrying(upload.send_batch, sleep, attempts=attempts):
            pass
        files = retrying(upload.send_run_files, sleep, attempts=attempts)
    except ServerError as exc:
        return RunSync(path, upload.sent_records, upload.sent_blobs, files, upload.acked_seq, str(exc),
                       unreachable=exc.status is None)
    return RunSync(path, upload.sent_records, upload.sent_blobs, files, upload.acked_seq)

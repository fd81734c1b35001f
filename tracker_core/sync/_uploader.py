"""The uploader: a run's background service that streams its log to the team server as it is written.

``log()`` never waits for it: it only reads the run's files, on its own daemon thread. It is
stopped after the run's final record (``after_final``), then drains what it can until the
deadline the run's end gives it (``sync_timeout`` after ``finish()`` was called, so that
``finish()`` waits for the upload that long in all); what is left stays on disk for
``tracker sync`` and is named in one line.

Between batches it also completes the uploads that earlier runs of the store left undone (killed
mid-upload): the first online run of a process looks, then at most one run every ``SWEEP_EVERY``
seconds, so a process that starts many short runs (a sweep agent's trials) does not read every run
of the store at each one (that look grew with the store: +4 ms of CPU per trial per 100 runs).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracker_core import _workers
from tracker_core.sync._client import ServerClient, ServerError
from tracker_core.sync._retry import Abandoned, retrying
from tracker_core.sync._upload import RunUpload

if TYPE_CHECKING:
    from tracker_core._services import ServiceContext

__all__ = ["SWEEP_EVERY", "Uploader", "uploader_service"]

SWEEP_EVERY = 60.0
"""Seconds between two looks, from one process, for a store's uploads left undone."""
_swept_at: dict[tuple[str, str], float] = {}  # (store root, server) -> time.monotonic() of this process's last look
_swept_lock = threading.Lock()


def uploader_service(context: ServiceContext) -> Uploader | None:
    """The uploader for an online run; None for any other run."""
    settings = context.settings
    if settings.mode != "online" or not settings.server:
        return None
    key = settings.api_key.get_secret_value() if settings.api_key is not None else None
    return Uploader(settings.server, key, context.run_dir, context.project, context.run_id, context.meta,
                    entity=context.entity, store_root=os.path.dirname(os.path.dirname(context.run_dir)),
                    name=str(context.meta().get("name") or context.run_id), sync_timeout=settings.sync_timeout)


class Uploader:
    """Tails one run's log and sends it to ``server``; the Service interface: start, stop(deadline), forked."""

    name = "uploader"

    def __init__(self, server: str, key: str | None, run_dir: str, project: str, run_id: str,
                 meta: Callable[[], dict[str, Any]], *, entity: str | None = None, store_root: str | None = None,
                 name: str | None = None, poll: float = 0.2, max_batch_bytes: int | None = None,
                 sync_timeout: float | None = None, complete_others: bool = True) -> None:
        self._server, self._key = server.rstrip("/"), key
        self._run_dir, self._project, self._run_id, self._meta = run_dir, project, run_id, meta
        self._entity = entity
        self._store_root = store_root or os.path.dirname(os.path.dirname(run_dir))
        self._label = f"{name or run_id} ({run_id})" if name and name != run_id else run_id
        self._poll = poll
        self._sync_timeout = sync_timeout
        self._max_batch_bytes = max_batch_bytes
        self._owner = os.getpid()
        self._stopping = threading.Event()  # the log is complete: drain it, then end
        self._abandon = threading.Event()  # give up now (deadline passed, or forked)
        self._wake = threading.Event()
        self._thread: _workers.Job | None = None
        self._upload: RunUpload | None = None
        self._done = False
        self._problem: str | None = None  # why the last attempt failed, for the final line
        self._refused: str | None = None
        self._forked = False
        self._swept = not complete_others or self._looked_lately()

    # ----- the Service interface ----------------------------------------------------------------

    def start(self) -> None:
        """Start its work on a daemon thread (``tracker_core._workers``: one left idle, when there is one);
        returns at once."""
        self._thread = _workers.spawn(self._work, f"tracker-uploader-{self._run_id}")

    def stop(self, deadline: float) -> None:
        """Drain the complete log until ``deadline`` (``time.monotonic()``; and at most ``sync_timeout``
        seconds from now when one was given), then give up; never raises.

        Prints one line when records are left for ``tracker sync``.
        """
        if self._sync_timeout is not None:
            deadline = min(deadline, time.monotonic() + self._sync_timeout)
        try:
            self._stopping.set()
            self._wake.set()
            if self._thread is not None:
                self._thread.join(max(0.0, deadline - time.monotonic()))
            if self._done or self._refused or not self._may_write():  # a refusal was reported when it happened
                return
            self._abandon.set()
            self._report_left()
        except Exception as exc:  # noqa: BLE001 - a service never fails the end of the run
            print(f"tracker: uploader of run {self._label}: {exc!r}", file=sys.stderr)

    def forked(self) -> None:
        """In a forked child: send nothing, write nothing."""
        self._forked = True
        self._abandon.set()
        self._wake.set()

    # ----- the thread ---------------------------------------------------------------------------

    def _work(self) -> None:
        client: ServerClient | None = None
        time.sleep(0)  # hand the GIL back to init(), which waits for this thread to start, before any work
        if self._abandon.is_set():
            return
        try:
            client = ServerClient(self._server, self._key)
            upload = RunUpload(client, self._run_dir, self._project, self._run_id, self._meta, self._entity,
                               may_write=self._may_write)
            if self._max_batch_bytes:
                upload.max_batch_bytes = self._max_batch_bytes
            self._upload = upload
            self._retry(upload.open)
            while not self._abandon.is_set():
                if self._retry(upload.send_batch):
                    if upload.more_waiting or self._stopping.is_set():
                        continue  # a backlog (catching up), or the run's end: the next batch at once
                    # else that batch held all there was: let the next gather for a poll, so that a run
                    # logging all the time sends a request a poll, not one per round trip
                elif self._stopping.is_set():
                    if self._retry(upload.send_batch):  # what was written while we looked
                        continue
                    self._retry(upload.finish_meta)
                    self._retry(upload.send_run_files)
                    self._done = True
                    return
                if not self._swept:
                    self._swept = True
                    self._complete_left_behind(client, upload)
                    continue
                self._wake.wait(self._poll)
                if not self._stopping.is_set():
                    self._wake.clear()
        except Abandoned:
            return
        except ServerError as exc:  # UploadRefused included
            self._refused = str(exc).replace("\n", " ")
        except Exception as exc:  # noqa: BLE001 - the uploader never takes training down
            self._refused = f"internal error: {exc!r}"
        finally:
            if client is not None:
                client.close()
        if self._refused and not self._abandon.is_set():
            print(f"tracker: stopped streaming run {self._label} to {self._server}: {self._refused}. "
                  f"The run is complete in the local store; `tracker sync {self._store_root}` uploads it "
                  "once that is fixed", file=sys.stderr)

    def _looked_lately(self) -> bool:
        with _swept_lock:
            last = _swept_at.get((os.path.abspath(self._store_root), self._server))
        return last is not None and time.monotonic() - last < SWEEP_EVERY

    def _complete_left_behind(self, client: ServerClient, own: RunUpload) -> None:
        """Finish the uploads that earlier online runs of this store left undone (killed mid-upload),
        between batches of this run's own records, until this run stops. Exactly once, by seq. A look
        through every run is noted for this process (``SWEEP_EVERY``)."""
        from tracker_core.sync._state import SyncState
        from tracker_core.sync._sync import being_written, needs_sync, store_runs

        for run_dir in store_runs(self._store_root):
            if self._stopping.is_set() or self._abandon.is_set():
                return
            state = SyncState.load(run_dir.path)
            mine = os.path.abspath(run_dir.path) == os.path.abspath(self._run_dir)
            if (mine or state is None or state.server != self._server or not needs_sync(run_dir, self._server)
                    or being_written(run_dir)):
                continue
            meta = run_dir.read_meta() or {}
            other = RunUpload(client, run_dir.path, run_dir.project, run_dir.run_id, functools.partial(dict, meta),
                              entity=meta.get("entity") or state.entity, may_write=self._may_write)
            if self._other_step(other.open) is None:
                continue
            while not self._stopping.is_set() and self._other_step(other.send_batch):
                self._retry(own.send_batch)  # this run's own records go first (its refusals end the upload)
            if self._stopping.is_set():
                return
            self._other_step(other.send_run_files)
        with _swept_lock:
            _swept_at[os.path.abspath(self._store_root), self._server] = time.monotonic()

    def _other_step(self, call: Callable[[], Any]) -> Any:
        """One retried step of another run's upload; None when the server refuses it (that run is left
        for ``tracker sync``, this one goes on)."""
        try:
            return self._retry(call)
        except ServerError:
            return None

    def _retry(self, call: Callable[[], Any]) -> Any:
        result = retrying(call, self._sleep, on_retry=self._note_problem)
        self._problem = None
        return result

    def _note_problem(self, error: ServerError) -> None:
        self._problem = str(error)

    def _sleep(self, seconds: float) -> None:
        if self._abandon.wait(seconds):
            raise Abandoned

    def _may_write(self) -> bool:
        return os.getpid() == self._owner and not self._forked

    def _report_left(self) -> None:
        upload = self._upload
        if upload is not None and upload.state is not None:
            left = upload.left()
            what = f"{left} records" if left else "its files"
        else:
            from tracker_core.sync._state import last_seq_in_log

            what = f"{last_seq_in_log(os.path.join(self._run_dir, 'events.jsonl'))} records"
        why = self._refused or self._problem or "the upload did not finish within TRACKER_SYNC_TIMEOUT"
        print(f"tracker: {what} of run {self._label} not on {self._server} yet ({why}); "
              f"`tracker sync {self._store_root}` uploads them", file=sys.stderr)

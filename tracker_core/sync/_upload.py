"""Uploading one run folder: its log's records by seq; its media, run files and logged artifacts by digest.

The log is read from the byte offset the server last acknowledged, complete lines only (a
torn tail is never read), at most one batch at a time. While a backlog is sent (a batch read
full), the next batch is read and compressed on a helper thread during the current one's POST,
so catching up runs at the server's speed; it is used only if the server acknowledged the whole
current batch (else it is dropped and read again), so at most two batches are in memory and
requests still go one at a time, in seq order. Records with a seq the server already
holds are skipped; a refused gap (409) moves the position to the server's high-water mark.
A batch's media files reach the server before the batch. Every acknowledgement is saved in
the run folder (``.sync.json``), so an upload stopped anywhere resumes without duplicates.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from tracker_core import _workers
from tracker_core.media._stored import stored_files
from tracker_core.sync._client import ServerClient, ServerError, segment
from tracker_core.sync._state import SyncState, last_seq_in_log

__all__ = ["RunUpload", "UploadRefused"]

MAX_BATCH_BYTES = 1 << 20
GZIP_LEVEL = 1
"""zlib's fastest level: 2x the speed of level 5 on metric lines, for a body about 7% larger."""
_HASH_CHUNK = 1 << 20


class UploadRefused(ServerError):
    """The server refused the run for good (a bad key, a bad record, no team to put it in)."""


class RunUpload:
    """One run folder's upload. Each method is one step that may raise ``ServerError``;
    the caller decides when to try again. Not thread-safe."""

    def __init__(self, client: ServerClient, run_dir: str, project: str, run_id: str,
                 meta: Callable[[], dict[str, Any]], entity: str | None = None,
                 max_batch_bytes: int = MAX_BATCH_BYTES, may_write: Callable[[], bool] = lambda: True) -> None:
        self.client = client
        self.run_dir = run_dir
        self.log_path = os.path.join(run_dir, "events.jsonl")
        self.project, self.run_id = project, run_id
        self._meta = meta
        self._entity = entity
        self.max_batch_bytes = max_batch_bytes
        self._may_write = may_write
        self.state: SyncState | None = None
        self.sent_records = 0
        self.sent_blobs = 0
        self.sent_bytes = 0
        self.refused_artifacts: list[str] = []
        self._gap_rescans = 0
        self._careful = False  # check every line of a batch (after the server called one malformed)
        self._ahead: _Prepared | None = None  # the next batch, read while the last one was in flight
        self.more_waiting = True  # False after a send_batch that sent all the log held (or found nothing)

    # ----- set-up -------------------------------------------------------------------------------

    def open(self) -> int:
        """Find the team, create the run on the server (or find it there) and take its high-water mark,
        which it returns.

        Raises:
            ServerError: the server could not be reached or refused (UploadRefused: for good).
        """
        saved = SyncState.load(self.run_dir)
        if saved is not None and saved.server != self.client.url:
            saved = None
        entity = self._entity or (saved.entity if saved else None) or self._only_team()
        acked = self._put_run(entity)
        state = saved if saved is not None and saved.entity == entity else SyncState(self.client.url, entity)
        self.state = state
        self._move_to(acked)
        return acked

    def _only_team(self) -> str:
        try:
            teams = [team["name"] for team in self.client.whoami().get("teams", []) if isinstance(team, dict)]
        except ServerError as exc:
            self._refuse_for_good(exc)
            raise
        if len(teams) != 1:
            listed = ", ".join(teams) or "none"
            raise UploadRefused("choosing the team", None, reason=f"the run names no entity and the API key's teams "
                                f"are {listed}; pass entity= to init() or set TRACKER_ENTITY")
        return str(teams[0])

    def _put_run(self, entity: str) -> int:
        try:
            answer = self.client.call("PUT", self._run_path(entity), "creating the run on the server",
                                      json={"meta": self._meta()})
        except ServerError as exc:
            self._refuse_for_good(exc)
            raise
        return int(answer.get("acked_seq", 0))

    def _run_path(self, entity: str | None = None) -> str:
        return self.client.run_path(entity or self._state().entity, self.project, self.run_id)

    def _state(self) -> SyncState:
        if self.state is None:
            raise RuntimeError("RunUpload.open() first")
        return self.state

    @staticmethod
    def _refuse_for_good(exc: ServerError) -> None:
        if not exc.retryable:
            raise UploadRefused(exc.what, exc.status, exc.body) from None

    # ----- records ------------------------------------------------------------------------------

    @property
    def acked_seq(self) -> int:
        return self.state.acked_seq if self.state is not None else 0

    def left(self) -> int:
        """Records in the log the server does not hold yet."""
        return max(0, last_seq_in_log(self.log_path) - self.acked_seq)

    def send_batch(self) -> bool:
        """Send the next batch of records (after its media); False when the log holds nothing new.

        Raises:
            ServerError: the batch was not stored (nothing is lost: it is read again next time).
        """
        state = self._state()
        self.more_waiting = True
        prepared = self._take_ahead(state.offset) or _prepare(self.log_path, state.offset, self.max_batch_bytes,
                                                              state.acked_seq, self._careful)
        if prepared is None:
            self.more_waiting = False
            return False
        batch, body = prepared.batch, prepared.body
        if not batch.body:  # only records the server holds already
            state.offset = batch.end
            self._save()
            return True
        self._send_media(batch.records_with(_MEDIA_MARK))
        self._send_artifacts(batch.records_with(_ARTIFACT_MARK))
        ahead = _ReadAhead(self.log_path, batch.end, self.max_batch_bytes, batch.last, self._careful) \
            if batch.full else None
        try:
            answer = self.client.call("POST", self._run_path() + "/records", "sending records", data=body,
                                      headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"})
        except ServerError as exc:
            self._after_refusal(exc, batch)
            return True
        finally:
            self._ahead = ahead.result() if ahead is not None else None
        acked = int(answer.get("acked_seq", 0))
        self.sent_records += max(0, min(acked, batch.last) - max(state.acked_seq, batch.first - 1))
        self.sent_bytes += len(body)
        self._careful = False
        self._move_to(acked, batch)
        self.more_waiting = batch.full
        return True

    def _take_ahead(self, offset: int) -> _Prepared | None:
        """The batch read ahead, if it is the one that comes next now (read from ``offset`` after the same
        acknowledgement, with the same limit and care); dropped either way."""
        ahead, self._ahead = self._ahead, None
        state = self._state()
        if ahead is None or ahead.key != (offset, self.max_batch_bytes, state.acked_seq, self._careful):
            return None
        return ahead

    def _after_refusal(self, exc: ServerError, batch: _Batch) -> None:
        """A 409 gap moves to the server's mark, a 413 shrinks the batch, a first 400 re-reads it checking
        every line; other refusals raise."""
        if exc.status == 409 and exc.code == "seq_gap" and isinstance(exc.body.get("acked_seq"), int):
            mark = int(exc.body["acked_seq"])
            self._gap_rescans += 1
            if self._gap_rescans > 3:  # the gap is in the local log itself (a lost line): it can never pass
                raise UploadRefused("sending records", 409, exc.body, reason=f"the log has no record {mark + 1} "
                                    "(a damaged line?); the records after it cannot be sent") from None
            self._move_to(mark, batch)
            return
        if exc.status == 413 and batch.count > 1:
            limit = exc.body.get("limit_bytes")
            smaller = self.max_batch_bytes // 2
            self.max_batch_bytes = max(256, min(smaller, int(limit * 0.8)) if isinstance(limit, int) else smaller)
            return
        if exc.status == 413:
            raise UploadRefused("sending records", 413, exc.body, reason=f"record {batch.first} alone is larger than "
                                f"the server accepts ({exc.body.get('limit_bytes')} bytes)") from None
        if exc.status == 400 and not self._careful:
            self._careful = True  # a damaged line the quick read let through: the next read checks each line
            return
        self._refuse_for_good(exc)
        raise exc

    def _move_to(self, acked: int, batch: _Batch | None = None) -> None:
        """Take the server's high-water mark: past records it holds, back to the start if it holds fewer."""
        state = self._state()
        position = batch.position_after(acked) if batch is not None else None
        if position is not None:
            state.offset = position
        elif acked < state.acked_seq:
            state.offset = 0  # the server holds fewer records than we thought: read again, skipping what it has
        # else the mark lies ahead of this batch: keep the offset; records up to the mark are skipped when read
        if acked > state.acked_seq:
            self._gap_rescans = 0
            state.files_done = False  # the run went on: its files may have changed too
        state.acked_seq = acked
        self._save()

    # ----- files --------------------------------------------------------------------------------

    def _send_media(self, records: Iterable[dict[str, Any]]) -> None:
        """Upload the media files the records refer to and the server lacks, and map them to the run."""
        state = self._state()
        wanted: dict[str, tuple[str, str]] = {}
        for record in records:
            for path, digest in _media_refs(record, self.run_dir):
                if state.files.get(path) != digest:
                    wanted[path] = (digest, os.path.join(self.run_dir, path))
        if wanted:
            self._send_files(wanted)

    def _send_artifacts(self, records: Iterable[dict[str, Any]]) -> None:
        """The artifact versions the records say this run logged: their files by digest (only the blobs the
        server lacks travel), mapped to the run as ``artifacts/<name>/v<N>/<path>`` (and ``.../manifest.json``)
        so the run's page lists them, then each version registered with the server's artifact routes."""
        state = self._state()
        store = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(self.run_dir))), "artifacts")
        wanted: dict[str, tuple[str, str]] = {}
        versions: list[dict[str, Any]] = []
        for record in records:
            if record.get("type") != "artifact" or record.get("direction") not in ("logged", "linked"):
                continue
            name, version, digest = record.get("name"), record.get("version"), record.get("digest")
            if not (isinstance(name, str) and isinstance(version, int) and isinstance(digest, str)
                    and _safe_relative(name) and "/" not in name and _SHA.fullmatch(digest)):
                continue
            found = _local_version(store, name, version, digest)
            if found is None:
                continue  # deleted since (gc): nothing to send
            manifest, body = found
            versions.append({**body, "name": name, "run_id": self.run_id})
            prefix = f"artifacts/{name}/v{version}/"
            manifest_sha = _sha256(manifest)
            if manifest_sha is not None:
                wanted[prefix + "manifest.json"] = (manifest_sha, manifest)
            for entry in body["files"]:
                path, sha = entry["path"], entry["sha256"]
                if "ref" not in entry and _safe_relative(path):
                    wanted[prefix + path] = (sha, os.path.join(store, "blobs", sha[:2], sha))
        wanted = {path: found for path, found in wanted.items() if state.files.get(path) != found[0]}
        if wanted:
            self._send_files(wanted)
        for body in versions:
            self._register_version(body, store)

    def _register_version(self, body: dict[str, Any], store: str) -> None:
        """Register one version with the server (idempotent: the same digest is the same version); blobs the
        server still lacks (409 ``missing_blobs``) are uploaded and the registration tried once more. A refusal
        for good (a server without artifact routes, another type under that name) is kept in
        ``refused_artifacts`` and never holds up the run's records; the files stay mapped as run files."""
        name = body.pop("name")
        path = f"/api/v1/artifact-collections/{segment(self._state().entity)}/{segment(self.project)}/{segment(name)}"
        for attempt in range(2):
            try:
                self.client.call("POST", path, f"registering artifact {name}", json=body)
                return
            except ServerError as exc:
                if exc.retryable:
                    raise  # the batch is sent again later, and this registration with it
                if exc.code != "missing_blobs" or attempt:  # another type under that name, an old server, ...:
                    self.refused_artifacts.append(str(exc))  # the run's records still travel
                    return
                try:
                    self._upload_blobs([str(sha) for sha in exc.body.get("missing", []) if _SHA.fullmatch(str(sha))],
                                       os.path.join(store, "blobs"))
                except ServerError as refused:
                    if refused.retryable:
                        raise
                    self.refused_artifacts.append(str(refused))  # a blob refused for good: the records still go
                    return

    def _upload_blobs(self, digests: list[str], folder: str) -> None:
        blobs = f"/api/v1/blobs/{segment(self._state().entity)}"
        for digest in digests:
            try:
                with open(os.path.join(folder, digest[:2], digest), "rb") as handle:
                    self.client.call("PUT", f"{blobs}/{digest}", f"uploading blob {digest[:12]}", data=handle,
                                     headers={"Content-Type": "application/octet-stream"})
            except OSError:
                continue
            self.sent_blobs += 1

    def send_run_files(self) -> int:
        """Upload what changed in the run's ``files/`` folder (the console log, saved files); returns how many.

        Raises:
            ServerError: the files were not all mapped (the next call tries again).
        """
        state = self._state()
        changed: dict[str, tuple[str, str]] = {}
        for path in _files_under(self.run_dir, "files"):
            full = os.path.join(self.run_dir, path)
            digest = _sha256(full)
            if digest is not None and state.files.get(path) != digest:
                changed[path] = (digest, full)
        if changed:
            self._send_files(changed)
        state.files_done = True
        self._save()
        return len(changed)

    def _send_files(self, wanted: dict[str, tuple[str, str]]) -> None:
        """``wanted``: server path -> (sha256, local file). The blobs the server lacks travel (each once);
        then every path is mapped to its digest. Files gone since are skipped."""
        entity = self._state().entity
        blobs = f"/api/v1/blobs/{segment(entity)}"
        present = {path: found for path, found in wanted.items() if os.path.isfile(found[1])}
        if not present:
            return
        answer = self.client.call("POST", blobs + "/missing", "asking which files the server lacks",
                                  json={"digests": sorted({digest for digest, _ in present.values()})})
        missing = set(answer.get("missing", []))
        mapped: dict[str, dict[str, Any]] = {}
        for path, (digest, full) in present.items():
            if digest in missing:
                try:
                    with open(full, "rb") as handle:
                        self.client.call("PUT", f"{blobs}/{digest}", f"uploading {path}", data=handle,
                                         headers={"Content-Type": "application/octet-stream"})
                except ServerError as exc:
                    if exc.code == "digest_mismatch":  # the file changed since it was logged: skip it
                        continue
                    raise
                except OSError:
                    continue
                missing.discard(digest)
                self.sent_blobs += 1
            try:
                mapped[path] = {"sha256": digest, "size": os.path.getsize(full)}
            except OSError:
                continue
        if mapped:
            self.client.call("PUT", self._run_path() + "/files", "mapping the run's files", json={"files": mapped})
            self._state().files.update({path: entry["sha256"] for path, entry in mapped.items()})
            self._save()

    def finish_meta(self) -> None:
        """Send run.json's final content (the run is created already); raises ServerError."""
        self._put_run(self._state().entity)

    def _save(self) -> None:
        if self.state is not None and self._may_write():
            try:
                self.state.save(self.run_dir)
            except OSError:
                pass  # the server's mark is the truth; a lost state file only costs a rescan


_SEQ_PREFIX = b'{"seq":'
_MEDIA_MARK = b'"$m"'
_ARTIFACT_MARK = b'"type":"artifact"'
_SHA = re.compile(r"[0-9a-f]{64}")


def _seq_prefix(line: bytes) -> int | None:
    """The seq of a line as LogWriter writes it (``{"seq":N,...``), read without parsing the line."""
    if not line.startswith(_SEQ_PREFIX):
        return None
    comma = line.find(b",", 7, 40)
    try:
        return int(line[7:comma]) if comma > 0 else None
    except ValueError:
        return None


def _read_batch(path: str, offset: int, limit: int, acked: int, careful: bool) -> _Batch | None:
    """Complete lines of the log at ``path`` from ``offset``, at most ``limit`` bytes (a longer record alone);
    None when there are none."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read(limit)
            full = len(data) >= limit
            end = data.rfind(b"\n")
            while end < 0 and len(data) >= limit:  # one record longer than a batch: alone
                more = handle.read(limit)
                if not more:
                    break
                end = more.find(b"\n")
                end = len(data) + end if end >= 0 else -1
                data += more
    except FileNotFoundError:
        return None
    if end < 0:
        return None
    batch = _Batch(offset, data[: end + 1], acked, careful)
    batch.full = full
    return batch


class _Prepared:
    """A batch and its gzip body, with what it was read under (``key``: offset, limit, acknowledged seq, care)."""

    def __init__(self, batch: _Batch, key: tuple[int, int, int, bool]) -> None:
        self.batch, self.key = batch, key
        self.body = gzip.compress(batch.body, compresslevel=GZIP_LEVEL) if batch.body else b""  # without the GIL


def _prepare(path: str, offset: int, limit: int, acked: int, careful: bool) -> _Prepared | None:
    """The batch from ``offset`` (see ``_read_batch``), compressed; None when the log holds no complete line there."""
    batch = _read_batch(path, offset, limit, acked, careful)
    return _Prepared(batch, (offset, limit, acked, careful)) if batch is not None else None


class _ReadAhead:
    """``_prepare`` on a daemon thread, started at once; ``result()`` waits for it (None if it failed: the
    batch is then read again where it is needed, and any error is raised there)."""

    def __init__(self, path: str, offset: int, limit: int, acked: int, careful: bool) -> None:
        self._result: _Prepared | None = None
        self._thread: _workers.Job | None
        try:
            self._thread = _workers.spawn(lambda: self._run(path, offset, limit, acked, careful),
                                          "tracker-upload-read-ahead")
        except RuntimeError:  # no thread to be had: the batch is read when it is needed
            self._thread = None

    def _run(self, path: str, offset: int, limit: int, acked: int, careful: bool) -> None:
        try:
            self._result = _prepare(path, offset, limit, acked, careful)
        except Exception:  # noqa: BLE001 - read again (and reported) on the uploader's own thread
            self._result = None

    def result(self) -> _Prepared | None:
        if self._thread is not None:
            self._thread.join()
        return self._result


class _Batch:
    """Complete log lines read from ``start``: the lines to send (``body``) and where each record ends;
    ``full``: the read stopped at its limit (more of the log is likely waiting).

    The quick read, for lines numbered ``acked+1, acked+2, ...`` as the writer makes them, looks at
    the first and last line only, so the uploader holds the GIL for microseconds per batch. Anything
    else (records the server holds already, a line without a seq, ``careful``) is read line by line:
    undecodable lines are left out, and so are records with a seq the server holds; the lines to send
    stop before a gap in the seqs.
    """

    def __init__(self, start: int, chunk: bytes, acked: int, careful: bool = False) -> None:
        self.start, self.end, self._chunk = start, start + len(chunk), chunk
        self.full = False
        self._positions: dict[int, int] | None = None
        count = chunk.count(b"\n")
        first = _seq_prefix(chunk)
        last = _seq_prefix(chunk[chunk.rfind(b"\n", 0, len(chunk) - 1) + 1:])
        if not careful and first is not None and last is not None and first == acked + 1 and last - first + 1 == count:
            self.body, self.first, self.last, self.count = chunk, first, last, count
            return
        kept: list[bytes] = []
        seqs: list[int] = []
        positions: dict[int, int] = {}
        position = start
        for line in chunk.split(b"\n")[:-1]:
            position += len(line) + 1
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            seq = record.get("seq") if isinstance(record, dict) else None
            if not isinstance(seq, int):
                continue
            if seq > acked and seqs and seq != seqs[-1] + 1:
                break  # a gap (a damaged line): what comes before it can be stored, the rest cannot
            positions[seq] = position
            if seq > acked:
                kept.append(line)
                seqs.append(seq)
        self._positions = positions
        self.body = b"\n".join(kept) + b"\n" if kept else b""
        self.first, self.last = (seqs[0], seqs[-1]) if seqs else (acked + 1, acked)
        self.count = len(kept)

    def position_after(self, seq: int) -> int | None:
        """The log offset just past record ``seq``, if this batch read it."""
        if seq == self.last and self._positions is None:
            return self.end
        if self._positions is None:
            self._positions = {}
            position = self.start
            for line in self._chunk.split(b"\n")[:-1]:
                position += len(line) + 1
                found = _seq_prefix(line)
                if found is not None:
                    self._positions[found] = position
        return self._positions.get(seq)

    def records_with(self, mark: bytes) -> Iterator[dict[str, Any]]:
        """The records to send whose line holds ``mark`` (only those lines are parsed)."""
        body = self.body
        at = body.find(mark)
        while at >= 0:
            line_start = body.rfind(b"\n", 0, at) + 1
            line_end = body.find(b"\n", at)
            try:
                record = orjson.loads(body[line_start:line_end])
            except orjson.JSONDecodeError:
                record = None
            if isinstance(record, dict):
                yield record
            at = body.find(mark, line_end)


def _media_refs(tree: Any, run_dir: str) -> Iterator[tuple[str, str]]:
    """(file, sha256) of every file the media tags (``{"$m": {...}}``) in a record name: their own, their
    mask and box layers', and a table's media cells'."""
    if isinstance(tree, dict):
        media = tree.get("$m") if len(tree) == 1 else None
        if isinstance(media, dict):
            for file, digest in stored_files(media, run_dir):
                if digest is not None and _SHA.fullmatch(digest):
                    yield file, digest
            return
        for value in tree.values():
            yield from _media_refs(value, run_dir)
    elif isinstance(tree, list):
        for value in tree:
            yield from _media_refs(value, run_dir)


def _safe_relative(path: str) -> bool:
    return not path.startswith("/") and "\\" not in path and ".." not in path.split("/")


def _files_under(run_dir: str, folder: str) -> list[str]:
    found = []
    for parent, _, names in os.walk(os.path.join(run_dir, folder)):
        for name in names:
            full = os.path.join(parent, name)
            if os.path.isfile(full) and not os.path.islink(full):
                found.append(os.path.relpath(full, run_dir).replace(os.sep, "/"))
    return sorted(found)


def _sha256(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _local_version(store: str, name: str, number: int, digest: str) -> tuple[str, dict[str, Any]] | None:
    """(manifest file, registration body) of version ``number`` of ``name`` in the store at ``store``, if it is
    still there with ``digest``."""
    from tracker_core.artifacts import ArtifactError, ArtifactStore

    try:
        local = ArtifactStore(os.path.dirname(store))
        version = local.resolve(f"{name}:v{number}")
        if version.digest != digest:
            return None
        files = local.files(version)
    except (ArtifactError, OSError):
        return None
    body = {"type": version.type, "digest": digest, "files": files, "metadata": version.metadata,
            "description": version.description, "aliases": [a for a in version.aliases if a != "latest"]}
    return os.path.join(store, "manifests", f"{digest}.json"), body

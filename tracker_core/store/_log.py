"""The append-only log ``events.jsonl``: one JSON record per line, one write() per record."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import orjson

from tracker_core._encoding import tag_row
from tracker_core._fileio import close_quietly

__all__ = ["LogWriter", "ReadStats", "parse_records", "read_log", "repair_torn_tail"]

_DUMP_OPTIONS = orjson.OPT_APPEND_NEWLINE
_dumps = orjson.dumps
_TAIL_WINDOW = 1 << 16


class LogWriter:
    """Appends records to one log file and numbers them.

    Not thread-safe: the run holds its lock around ``append``. Each record is handed
    to the kernel with a single ``write()`` before ``append`` returns, so it survives
    the death of the process. A failed write is undone (the file is cut back to its
    last complete record) and reported through the return value, never raised.
    """

    def __init__(self, path: str, last_seq: int, fsync_every_record: bool = False) -> None:
        """Open ``path`` for appending; raises OSError if it cannot be opened."""
        self.path = path
        self.seq = last_seq
        self.fsync_every_record = fsync_every_record
        self.failed = 0
        self.last_error: OSError | None = None
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._synced_seq = last_seq

    def append(self, record: dict[str, Any]) -> bool:
        """Write ``record`` (its "seq" must be ``self.seq + 1``); True if it reached the kernel."""
        try:
            line = orjson.dumps(record, option=_DUMP_OPTIONS)
        except (TypeError, orjson.JSONEncodeError) as exc:
            return self._failed(OSError(f"unencodable record: {exc}"))
        return self._write(line)

    def append_row(self, record: dict[str, Any]) -> bool:
        """``append`` for a record whose ``data`` is a flat row of scalars, NaN and ±Inf already tagged.

        The hot path of ``log()``: one dumps and one write inline; the rest is in the slow paths.
        """
        try:
            line = _dumps(record, option=_DUMP_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits, which tag_row tags
            try:
                line = _dumps({**record, "data": tag_row(record["data"])}, option=_DUMP_OPTIONS)
            except TypeError as exc:
                return self._failed(OSError(f"unencodable record: {exc}"))
        try:
            written = os.write(self._fd, line)
        except OSError as exc:
            return self._failed(exc)
        if written != len(line) or self.fsync_every_record:
            return self._finish_write(line, written)
        self.seq += 1
        return True

    def _failed(self, error: OSError) -> bool:
        self.failed += 1
        self.last_error = error
        return False

    def _write(self, line: bytes) -> bool:
        try:
            written = os.write(self._fd, line)
        except OSError as exc:
            return self._failed(exc)  # a failed write() wrote nothing
        return self._finish_write(line, written)

    def _finish_write(self, line: bytes, written: int) -> bool:
        """Complete a short write (they happen near a size limit), count the record, fsync if asked."""
        try:
            while written < len(line):
                written += os.write(self._fd, line[written:])
        except OSError as exc:
            self._cut(written)  # cut off the partial record
            return self._failed(exc)
        self.seq += 1
        if self.fsync_every_record:
            self.sync()
        return True

    def _cut(self, count: int) -> None:
        """Remove the last ``count`` bytes (a partial record); this process is the only writer."""
        try:
            os.ftruncate(self._fd, os.fstat(self._fd).st_size - count)
        except OSError:
            pass

    def sync(self) -> None:
        """fsync the log if anything was written since the last sync; errors are ignored."""
        if self.seq != self._synced_seq and self._fd >= 0:
            self._synced_seq = self.seq
            try:
                os.fsync(self._fd)
            except OSError:
                pass

    def close(self) -> None:
        """Sync and close; idempotent."""
        if self._fd >= 0:
            self.sync()
            fd, self._fd = self._fd, -1
            os.close(fd)

    def abandon(self) -> None:
        """Close without syncing (in a forked child, which must not touch the parent's run)."""
        fd, self._fd = self._fd, -1
        close_quietly(fd)


def repair_torn_tail(path: str) -> int:
    """Cut an incomplete last line off the log; returns the number of bytes removed.

    Raises:
        OSError: the file cannot be read or truncated.
    """
    with open(path, "rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        start = max(0, size - _TAIL_WINDOW)
        while True:
            handle.seek(start)
            chunk = handle.read(size - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0 or start == 0:
                break
            start = max(0, start - _TAIL_WINDOW)
        keep = start + cut + 1 if cut >= 0 else 0
        if keep < size:
            handle.truncate(keep)
            os.fsync(handle.fileno())
        return size - keep


class ReadStats:
    """What a read skipped: undecodable lines and a torn tail."""

    def __init__(self) -> None:
        self.bad_lines = 0
        self.torn_tail = False


def read_log(path: str) -> bytes:
    """The whole log file; raises OSError."""
    with open(path, "rb") as handle:
        return handle.read()


def parse_records(data: bytes, stats: ReadStats | None = None) -> Iterator[dict[str, Any]]:
    """Yield the records in a log's bytes; a torn last line and bad lines are skipped and counted."""
    stats = stats if stats is not None else ReadStats()
    lines = data.split(b"\n")
    if lines and lines[-1]:
        stats.torn_tail = True
    for line in lines[:-1]:
        if not line:
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            stats.bad_lines += 1
            continue
        if type(record) is dict:
            yield record
        else:
            stats.bad_lines += 1

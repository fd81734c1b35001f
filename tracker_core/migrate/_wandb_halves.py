"""Reading one large ``.wandb`` file on two cores: its second half in a forked process.

The file is cut where a record starts near its middle (``record_start``). This process reads the first
half as ``_RunBuilder.feed`` always does. A forked child reads the second half with the same ``feed``,
but makes log lines (less their ``seq``, into a scratch file) only of the rows read from their bytes
(``RowReader``: known keys, plain numbers, their own step and time: lines that depend on nothing before
them); everything else (summary records to fold in, records for the protobuf classes, the framing's errors)
it hands back as it is, in order. This process then writes those lines numbered on from its own and
handles the rest in order itself, so the run imported is byte for byte what one process makes. When the
child fails, this process reads the second half itself.

Only for files of 64 MiB or more, where ``os.fork`` exists, two cores are usable and no other thread runs (a
finished run's idle worker threads, parked on an event, do not count).
"""

from __future__ import annotations

import itertools
import math
import os
import pickle
import signal
import tempfile
import threading
from typing import Any, NoReturn

import orjson

from tracker_core._encoding import tag_row
from tracker_core._workers import idle_count
from tracker_core.migrate._fidelity import Fidelity
from tracker_core.migrate._wandb_import import _HISTORY, _RunBuilder, record_kind
from tracker_core.migrate._wandb_log import read_records, record_start

__all__ = ["feed_file"]

SPLIT_BYTES = 64 * 2**20  # smaller files are read by this process alone
_SHARE = 0.46  # of the file read by this process: about as long as the child takes for the rest
_SEGMENT_ROWS = 16_384  # rows of lines a segment, at most
Segment = tuple[Any, ...]  # ("lines", bytes, rows, points, max step, max time, last values) | ("summary",
# payload, index) | ("record", payload) | ("error", where, message)


def feed_file(builder: _RunBuilder, path: str, fidelity: Fidelity) -> None:
    """Fold every record of the ``.wandb`` file at ``path`` into ``builder`` (its ``feed``), on two cores when
    the file is large (see the module); errors go to ``fidelity`` as ``read_records`` reports them.

    Raises:
        OSError: the file cannot be read or the run written (as ``feed``).
    """
    split = _split_point(path)
    try:
        scratch_dir = tempfile.TemporaryDirectory(prefix="tracker-wandb-") if split is not None else None
    except OSError:  # no room for the child's lines: read it all here
        scratch_dir = None
    if split is None or scratch_dir is None:
        builder.feed(path, read_records(path, fidelity))
        return
    with scratch_dir as scratch:
        pid = os.fork()
        if pid == 0:
            _child(builder, path, split, scratch)
        status = -1
        try:
            builder.feed(path, read_records(path, fidelity, stop=split), end=False)
            status = os.waitpid(pid, 0)[1]
        finally:
            if status == -1:  # this process failed or was interrupted: so does the child
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        kept = _kept(scratch) if status == 0 else None
        if kept is None or builder.writer is None:  # the child failed, or no run record yet: read it here
            builder.feed(path, read_records(path, fidelity, start=split))
            return
        history_follows, segments = kept
        builder.end_waiting(history_follows)
        with open(os.path.join(scratch, "lines"), "rb") as lines:
            for segment in segments:
                if segment[0] == "lines":
                    builder.add_lines(lines.read(segment[1]), *segment[2:])
                elif segment[0] == "summary":
                    builder.summary_bytes(segment[1], segment[2])
                elif segment[0] == "record":
                    builder.record(segment[1])
                else:
                    fidelity.error(segment[1], segment[2])


def busy_threads() -> int:
    """Threads of this process besides the calling one, not counting idle worker threads."""
    return threading.active_count() - 1 - idle_count()


def _split_point(path: str) -> int | None:
    """Where the child's half of the file starts; None when the file is read by this process alone."""
    if not hasattr(os, "fork") or not hasattr(os, "sched_getaffinity") or busy_threads() > 0:
        return None
    if len(os.sched_getaffinity(0)) < 2:
        return None
    size = os.path.getsize(path)
    return record_start(path, int(size * _SHARE)) if size >= SPLIT_BYTES else None


def _kept(scratch: str) -> tuple[bool, list[Segment]] | None:
    """What the child handed back (whether its first record is a history record, its segments)."""
    try:
        with open(os.path.join(scratch, "segments"), "rb") as handle:
            kept: tuple[bool, list[Segment]] = pickle.load(handle)  # noqa: S301 - our own child's, just written
    except (OSError, EOFError, pickle.UnpicklingError):
        return None
    return kept


def _child(parent: _RunBuilder, path: str, split: int, scratch: str) -> NoReturn:
    """The forked child: the records from ``split`` on, into ``scratch`` (see the module); never returns."""
    code = 1
    try:
        half = _Half(parent, os.path.join(scratch, "lines"))
        records = read_records(path, half.fidelity, start=split)
        first = next(records, None)
        history_follows = first is not None and record_kind(first) == _HISTORY
        half.feed(path, itertools.chain([first], records) if first is not None else ())
        half.end_lines()
        half.lines.close()
        with open(os.path.join(scratch, "segments"), "wb") as handle:
            pickle.dump((history_follows, half.segments), handle, protocol=pickle.HIGHEST_PROTOCOL)
        code = 0
    except BaseException:  # noqa: BLE001, S110 - the parent sees the exit code and reads this half itself
        pass
    finally:
        os._exit(code)


class _Kept(Fidelity):
    """The child's fidelity: the framing's errors are kept among the segments, in order."""

    half: _Half

    def error(self, where: str, message: str) -> None:
        self.half.keep(("error", where, message))


class _Half(_RunBuilder):
    """The child's builder: rows read from their bytes become lines, the rest is kept (see the module)."""

    def __init__(self, parent: _RunBuilder, lines: str) -> None:
        kept = _Kept(parent.fidelity.source, parent.fidelity.destination)
        super().__init__(parent.pb, parent.run_dir, kept, parent.project_override)
        kept.half = self
        self.shapes = parent.shapes  # the keys known so far (this is a copy of the parent's memory)
        self.seen_summaries = parent.seen_summaries
        self.segments: list[Segment] = []
        self.lines = open(lines, "wb", buffering=1 << 20)  # noqa: SIM115 - closed by _child
        self._write = self.lines.write
        self._begun = 0  # where the lines of the segment being made begin in the file
        self._reset()

    def _reset(self) -> None:
        self._rows = self._points = 0
        self._step, self._t = -1, -math.inf
        self._last: dict[str, Any] = {}

    def add_row(self, step: int, t: float, row: dict[str, Any], data: dict[str, Any]) -> None:
        """A row's log line less ``{"seq":N,`` (``_Log.append_log`` otherwise)."""
        try:
            line = orjson.dumps({"t": t, "type": "log", "step": step, "data": data}, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # an integer beyond 64 bits
            line = orjson.dumps({"t": t, "type": "log", "step": step, "data": tag_row(data)},
                                option=orjson.OPT_APPEND_NEWLINE)
        self._write(memoryview(line)[1:])
        self._rows += 1
        self._points += len(data) - ("_runtime" in data)
        self._last.update(row)
        if step > self._step:
            self._step = step
        if t > self._t:
            self._t = t
        if self._rows == _SEGMENT_ROWS:
            self.end_lines()

    def end_lines(self) -> None:
        """Close the segment of lines being made, if it has any."""
        if self._rows:
            end = self.lines.tell()
            self.segments.append(("lines", end - self._begun, self._rows, self._points, self._step, self._t,
                                  self._last))
            self._begun = end
            self._reset()

    def keep(self, segment: Segment) -> None:
        """Hand ``segment`` back after the rows before it."""
        self.end_lines()
        self.segments.append(segment)

    def summary_bytes(self, payload: bytes, index: int) -> None:
        body = payload[index:]
        if body in self.seen_summaries:  # the parent has folded it in by then, too
            return
        if len(body) < 256:
            self.seen_summaries.add(body)
        self.keep(("summary", payload, index))

    def record(self, payload: bytes) -> None:
        """Kept for the parent; a history record's keys are learnt (``row_of``) for the rows after it."""
        self.keep(("record", payload))
        if record_kind(payload) == _HISTORY:
            record = self.pb.Record()
            try:
                record.ParseFromString(payload)
                self.row_of(record.history)
            except Exception:  # noqa: BLE001, S110 - the parent reads it again and reports it
                pass

"""``tracker import wandb``: W&B run folders (``run-<id>.wandb`` and ``files/``) into the local store.

Each W&B run becomes the run with the same id in ``<root>/<project>/<id>/``: its records are
rewritten as this tracker's log records with W&B's own times (``_timestamp`` of each row,
the start time, system-metric sample times) and steps (``_step``), in the store's log format
(``RunDir``, records as ``LogWriter`` writes them, in batches). A run is built in ``<root>/.imports/``
and moved into place when complete, so an interrupted import leaves no half run; run.json remembers
the source files' sizes and times, so importing again skips unchanged runs and rebuilds changed
ones (never a second copy).
Several folders of one run id (an offline run resumed) are read in order into one run. A file of 64 MiB
or more is read on two cores (``_wandb_halves``), with the same result.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tracker_core._encoding import encode_tree, tag_row
from tracker_core._errors import TrackerError
from tracker_core.migrate._fidelity import Fidelity
from tracker_core.migrate._wandb_media import WandbMedia, copy_run_files
from tracker_core.migrate._wandb_proto import wandb_records
from tracker_core.migrate._wandb_rows import RowReader, is_number_text
from tracker_core.store._history import collector_paused
from tracker_core.store._run_dir import FORMAT_VERSION, RunDir

__all__ = ["find_wandb_runs", "import_wandb"]

_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_RUN_FILE = re.compile(r"run-([A-Za-z0-9_-]+)\.wandb$")
_SUMMARY_NAMES = ("min", "max", "mean", "best", "last", "none", "copy", "first")
_MAX_DEPTH = 6  # how deep under the given folder run folders are looked for
Progress = Callable[[str], None]


def _loads(text: str) -> Any:
    """A W&B ``value_json``: JSON with NaN, Infinity and -Infinity, as Python's json writes it."""
    special = _SPECIAL.get(text)
    if special is not None:
        return special
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)  # NaN inside a list or dict, or an integer beyond 64 bits


def _time(stamp: Any) -> float | None:
    """A protobuf Timestamp in seconds; None when unset."""
    return stamp.seconds + stamp.nanos / 1e9 if stamp.seconds or stamp.nanos else None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b) and type(a) is type(b)


def _set_nested(target: dict[str, Any], keys: Iterable[str], value: Any) -> None:
    *parents, last = keys
    for key in parents:
        child = target.get(key)
        if not isinstance(child, dict):
            child = target[key] = {}
        target = child
    target[last] = value


def _unset_nested(target: dict[str, Any], keys: list[str]) -> None:
    for key in keys[:-1]:
        child = target.get(key)
        if not isinstance(child, dict):
            return
        target = child
    target.pop(keys[-1], None)


_dumps = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE
_HISTORY, _SUMMARY = 2, 3  # field numbers of Record.history and Record.summary


def _after_num(payload: bytes) -> int:
    """Where a Record's bytes continue after its leading ``num`` (field 1, a varint), if it has one."""
    if not payload or payload[0] != 0x08:
        return 0
    index = 1
    while index < len(payload) and payload[index] & 0x80:
        index += 1
    return index + 1


def record_kind(payload: bytes) -> int:
    """The field number of a Record's type (``_HISTORY``, ``_SUMMARY``, ...) from its bytes; 0 when none."""
    index = _after_num(payload)
    return payload[index] >> 3 if index < len(payload) else 0


class _Log:
    """This store's log format (one JSON record per line, numbered by ``seq``), written through a large buffer.

    The live runs' ``LogWriter`` hands each record to the kernel before returning, for crash safety;
    an import needs none of that (the run is built beside the store and moved into place when
    complete), so lines go into a 1 MiB buffer and reach the file as it fills. Each line is copied into
    the buffer at once, not kept: orjson's output keeps a 4 KiB block of heap until it is freed, and
    thousands of lines held for one join made the heap grow and shrink by a page a row (a page fault
    each, a third of the import's time).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.seq = 0
        self._handle = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed by close()
        self._write = self._handle.write

    def append(self, fields: dict[str, Any], t: float) -> None:
        """Add one record at time ``t`` (raises OSError when the disk refuses it)."""
        self.seq += 1
        record = {"seq": self.seq, "t": t, **fields}
        try:
            line = _dumps(record, option=_NEWLINE)
        except TypeError:  # an integer beyond 64 bits
            line = _dumps({**record, "data": tag_row(record.get("data") or {})}, option=_NEWLINE)
        self._write(line)

    def append_log(self, step: int, t: float, data: dict[str, Any]) -> None:
        """``append`` of a row record, on the import's hot path."""
        self.seq += 1
        try:
            line = _dumps({"seq": self.seq, "t": t, "type": "log", "step": step, "data": data}, option=_NEWLINE)
        except TypeError:  # an integer beyond 64 bits
            line = _dumps({"seq": self.seq, "t": t, "type": "log", "step": step, "data": tag_row(data)},
                          option=_NEWLINE)
        self._write(line)

    def append_lines(self, lines: bytes) -> None:
        """Add rows whose lines another process made: each line of ``lines`` is a log record less its first
        ``{``, and gets ``{"seq":N,`` here (raises OSError when the disk refuses it)."""
        parts = lines.split(b"\n")
        parts.pop()  # after the last newline
        first = self.seq + 1
        self.seq += len(parts)
        numbered = zip(range(first, self.seq + 1), parts, strict=True)
        self._write(b"".join([b'{"seq":%d,%s\n' % pair for pair in numbered]))

    def close(self) -> None:
        """Write what is left, fsync and close; raises OSError."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()


def _item_keys(item: Any) -> list[str]:
    return list(item.nested_key) if item.nested_key else [item.key]


@dataclass
class _Source:
    """One W&B run id and the ``.wandb`` files that hold it, oldest first."""

    run_id: str
    files: list[str] = field(default_factory=list)

    def key(self) -> list[list[Any]]:
        """Sizes and mtimes of the source files: unchanged means there is nothing to import again."""
        result: list[list[Any]] = []
        for path in self.files:
            stat = os.stat(path)
            result.append([os.path.abspath(path), stat.st_size, stat.st_mtime_ns])
        return result


def find_wandb_runs(source: str) -> list[_Source]:
    """The W&B runs under ``source``: a ``wandb`` folder, one run folder, or a ``.wandb`` file.

    Raises:
        TrackerError: ``source`` does not exist or holds no ``run-*.wandb`` file.
    """
    if not os.path.exists(source):
        raise TrackerError(f"{source!r} does not exist\nHint: pass a W&B folder such as ./wandb, a run folder "
                           "(offline-run-*), or a run-*.wandb file")
    paths: list[str] = []
    if os.path.isfile(source):
        paths.append(source)
    else:
        base_depth = source.rstrip(os.sep).count(os.sep)
        for folder, subfolders, names in os.walk(source):
            if folder.count(os.sep) - base_depth >= _MAX_DEPTH:
                subfolders[:] = []
            subfolders[:] = sorted(s for s in subfolders if s not in ("files", "logs", "tmp", "media"))
            paths += [os.path.join(folder, n) for n in sorted(names) if _RUN_FILE.search(n)]
    runs: dict[str, _Source] = {}
    seen: set[str] = set()
    for path in paths:
        real = os.path.realpath(path)  # latest-run is a link to a run folder already listed
        match = _RUN_FILE.search(path)
        if real in seen or match is None:
            continue
        seen.add(real)
        runs.setdefault(match.group(1), _Source(match.group(1))).files.append(path)
    if not runs:
        raise TrackerError(f"no W&B run files (run-*.wandb) under {source!r}\nHint: pass the folder W&B wrote, "
                           "usually ./wandb, or one offline-run-* / run-* folder in it")
    for run in runs.values():
        run.files.sort(key=lambda p: os.path.basename(os.path.dirname(p)))  # folders are named by start time
    return sorted(runs.values(), key=lambda r: os.path.basename(os.path.dirname(r.files[0])))


class _RunBuilder:
    """Turns the records of one W&B run into this tracker's records, written to ``run_dir``."""

    def __init__(self, pb: Any, run_dir: RunDir, fidelity: Fidelity, project: str | None,
                 say: Progress | None = None) -> None:
        self.pb = pb
        self.say = say  # told every 100,000 rows
        self.run_dir = run_dir
        self.fidelity = fidelity
        self.project_override = project
        self.writer: _Log | None = None
        self.pending: list[dict[str, Any]] = []  # records before the run record (which sets the project)
        self.meta: dict[str, Any] = {}
        self.t = 0.0  # the latest W&B time seen: the time of records that carry none
        self.config: dict[str, Any] = {}
        self.wandb_config: dict[str, Any] = {}  # the config's _wandb: step metrics (m), custom charts (visualize)
        self.summary: dict[str, Any] = {}
        self.last: dict[str, Any] = {}  # the last history value of each key
        self.defined: set[str] = set()  # metrics with summary options (their summary is ours to compute)
        self.config_metrics: list[Any] = []  # the config's _wandb.m last read
        self.exit: tuple[int, float] | None = None
        self.console: list[str] = []
        self.media = WandbMedia(fidelity)
        self.folder = ""
        self.path = ""  # the .wandb file being read, for error messages
        self.rows = 0
        self.step = -1
        self.artifacts: list[tuple[str, Any]] = []  # ("logged" | "used", record), done after the log is written
        self.seen_summaries: set[bytes] = set()  # small summary records already folded in
        self.shapes = RowReader()  # history records of plain numbers read from their bytes
        self.waiting: bytes | None = None  # a summary record at the end of the records fed, and where it
        self.waiting_at = 0  # continues after its num (see ``feed``)
        self.points = 0

    # ----- writing ---------------------------------------------------------------------------

    def emit(self, record: dict[str, Any], t: float | None = None) -> None:
        if t is not None:
            self.t = max(self.t, t)
        if self.writer is None:
            self.pending.append({"t": self.t if t is None else t, **record})
            return
        self.writer.append(record, self.t if t is None else t)

    def open(self) -> None:
        self.run_dir.create()
        self.writer = _Log(self.run_dir.events)
        pending, self.pending = self.pending, []
        for record in pending:
            t = record.pop("t")
            self.emit(record, t)

    # ----- records ---------------------------------------------------------------------------

    def feed(self, path: str, payloads: Iterable[bytes], end: bool = True) -> None:
        """Fold in the records of one ``.wandb`` file (``end``: all of them; else the next call goes on).

        Each logged row comes as summary records and then its history record: the summary record just
        before a history record is that row's automatic summary (the row's own values), so it is not
        decoded; every other summary record is (explicit ``run.summary`` sets, define_metric aggregates).
        Summary records that repeat byte for byte (W&B's runtime ticks) are decoded once.
        """
        self.path, self.folder = path, os.path.dirname(path)
        waiting = self.waiting  # a summary record, until we know whether a history record follows
        waiting_at = self.waiting_at  # where its bytes continue after its num
        shapes = self.shapes
        seen = self.seen_summaries
        add_row = self.add_row
        for payload in payloads:
            if len(payload) < 8 or payload[0] != 0x08:  # short, or no num
                index = _after_num(payload)
            elif payload[1] < 0x80:  # num below 2^7, then the record type's tag
                index = 2
            elif payload[2] < 0x80:  # below 2^14
                index = 3
            elif payload[3] < 0x80:  # below 2^21
                index = 4
            elif payload[4] < 0x80:  # below 2^28
                index = 5
            else:
                index = _after_num(payload)
            kind = payload[index] >> 3 if index < len(payload) else 0
            if kind == _SUMMARY:
                if waiting is not None and waiting[waiting_at:] not in seen:  # W&B's runtime ticks repeat
                    self.summary_bytes(waiting, waiting_at)
                waiting, waiting_at = payload, index
                continue
            if kind != _HISTORY and waiting is not None:
                self.summary_bytes(waiting, waiting_at)
            waiting = None
            if kind == _HISTORY:
                row = shapes.read(payload)
                if row is not None:
                    step = row.pop("_step", None)
                    t = row.pop("_timestamp", None)
                    if type(step) is int and t is not None:
                        add_row(step, float(t), row, row)
                        continue
            self.record(payload)
        if end and waiting is not None:
            self.summary_bytes(waiting, waiting_at)
            waiting = None
        self.waiting, self.waiting_at = waiting, waiting_at

    def end_waiting(self, history_follows: bool) -> None:
        """The summary record left waiting by ``feed(..., end=False)``: skipped when the next record is a
        history record (it is that row's own summary), else folded in."""
        waiting, self.waiting = self.waiting, None
        if waiting is not None and not history_follows:
            self.summary_bytes(waiting, self.waiting_at)

    def record(self, payload: bytes) -> None:
        """A record that is not a summary, read with the protobuf classes."""
        record = self.parse(payload)
        if record is None:
            return
        kind_name = record.WhichOneof("record_type")
        if kind_name == "history":
            self.history(record.history)
            return
        handler = getattr(self, f"on_{kind_name}", None)
        if handler is not None:
            handler(getattr(record, kind_name))
        elif kind_name not in ("telemetry", "files", "header", "footer", "final", "request",
                               "noop_link_artifact", "output_logger", None):
            self.fidelity.drop(kind_name, "no counterpart here (W&B internal or unsupported record)")

    def parse(self, payload: bytes) -> Any:
        record = self.pb.Record()
        try:
            record.ParseFromString(payload)
        except Exception as error:  # noqa: BLE001 - protobuf's DecodeError, whichever implementation
            self.fidelity.error(self.path, f"a record that is not a W&B Record ({error}); skipped")
            return None
        return record

    def summary_bytes(self, payload: bytes, index: int) -> None:
        """A summary record (its bytes after ``num`` start at ``index``), unless one alike was folded in."""
        body = payload[index:]
        if body in self.seen_summaries:
            return
        if len(body) < 256:
            self.seen_summaries.add(body)
        record = self.parse(payload)
        if record is not None:
            self.on_summary(record.summary)

    def on_run(self, run: Any) -> None:
        started = _time(run.start_time)
        if started is not None:
            self.t = started if not self.meta else self.t
        project = self.project_override or run.project or "uncategorized"
        if not self.meta:
            self.meta = {"format_version": FORMAT_VERSION, "id": run.run_id, "project": project,
                         "name": run.display_name or run.run_id, "entity": run.entity or None,
                         "group": run.run_group or None, "job_type": run.job_type or None,
                         "tags": list(run.tags), "notes": run.notes or None, "started": started or self.t,
                         "host": run.host or None, "resumed_at": None,
                         "wandb": {"run_id": run.run_id, "project": run.project, "entity": run.entity or None}}
            if run.sweep_id:
                self.meta["wandb"]["sweep_id"] = run.sweep_id
        else:  # a resumed part: later values win, the first start stays
            self.meta["resumed_at"] = started
            for name, value in (("name", run.display_name), ("group", run.run_group), ("job_type", run.job_type),
                                ("notes", run.notes)):
                if value:
                    self.meta[name] = value
            if run.tags:
                self.meta["tags"] = list(run.tags)
        if self.writer is None:
            self.open()
        self.emit({"type": "run", **self.meta, "resumed": self.meta["resumed_at"] is not None}, started)
        if run.git.remote_url or run.git.commit:
            self.emit({"type": "provenance", "data": {"git": {"remote": run.git.remote_url or None,
                                                              "commit": run.git.commit or None}}})
        self.on_config(run.config)

    def on_config(self, config: Any) -> None:
        changed: dict[str, Any] = {}
        for item in config.update:
            keys = _item_keys(item)
            value = _loads(item.value_json)
            if keys[0] == "_wandb":
                if len(keys) == 1:
                    self.wandb_config = value if isinstance(value, dict) else {}
                else:
                    _set_nested(self.wandb_config, keys[1:], value)
                self.wandb_internals(self.wandb_config)
                continue
            _set_nested(self.config, keys, value)
            changed[keys[0]] = self.config[keys[0]]
            self.fidelity.count("config values")
        for item in config.remove:
            keys = _item_keys(item)
            _unset_nested(self.config, keys)
            self.fidelity.drop("config removals", "a removed config key stays in the log's earlier records")
        if changed:
            self.emit({"type": "config", "data": encode_tree(changed)})

    def wandb_internals(self, value: dict[str, Any]) -> None:
        """The metric definitions of ``_wandb.m`` (when they changed) and custom charts."""
        charts = value.get("visualize")
        if isinstance(charts, dict):
            self.media.charts.update({k: v for k, v in charts.items() if isinstance(v, dict)})
        metrics = value.get("m")
        if isinstance(metrics, list) and metrics != self.config_metrics:
            self.config_metrics = metrics
            self.config_step_metrics(metrics)

    def config_step_metrics(self, metrics: list[Any]) -> None:
        """``_wandb.m``: the metric definitions as wandb-core keeps them in a synced run's config
        (``files/config.yaml``), which a run started with ``config=`` that file carries. They are recorded as they
        are read, before the rows, as metric records are; metric records later in the log are recorded after them.

        Each entry is a ``MetricRecord`` by field number: "1" name or "2" glob name, "4" step metric or "5" the
        1-based index of the step metric's entry, "6" the set ``MetricOptions`` (1 step_sync, 2 hidden), "7" the
        set ``MetricSummary`` options (1 min ... 8 first), "8" the goal.
        """
        entries = [entry if isinstance(entry, dict) else {} for entry in metrics]
        for entry in entries:
            name = entry.get("1") or entry.get("2")
            axis, index = entry.get("4"), entry.get("5")
            if not axis and type(index) is int and 0 < index <= len(entries):
                axis = entries[index - 1].get("1")
            options, summary = entry.get("6"), entry.get("7")
            options = options if isinstance(options, list) else []
            summary = summary if isinstance(summary, list) else []
            if isinstance(name, str) and name:
                self.define_metric(name, axis if isinstance(axis, str) and axis else None,
                                   [option for number, option in enumerate(_SUMMARY_NAMES, 1) if number in summary],
                                   entry.get("8"), hidden=2 in options, step_sync=1 in options)

    def on_metric(self, metric: Any) -> None:
        name = metric.name or metric.glob_name
        if not name or metric.expanded_from_glob or metric._control.overwrite:
            return
        self.define_metric(name, metric.step_metric or None, [option for option in _SUMMARY_NAMES
                                                      if getattr(metric.summary, option)],
                           metric.goal, hidden=bool(metric.options.hidden), step_sync=bool(metric.options.step_sync))

    def define_metric(self, name: str, axis: str | None, summary: list[str], goal: Any, *, hidden: bool,
                      step_sync: bool) -> None:
        """A ``define_metric`` record (``summary``: W&B's option names; ``goal``: its enum, 1 minimize, 2 maximize)."""
        known = [option for option in summary if option not in ("none", "copy")]
        if "copy" in summary:
            self.fidelity.drop("metric summaries", "W&B's summary='copy' has no counterpart here")
        goal_name = {1: "minimize", 2: "maximize"}.get(goal) if type(goal) is int else None
        if known or goal_name:
            self.defined.add(name)
        self.emit({"type": "define_metric", "metric": {"name": name, "step_metric": axis if axis != name else None,
                                                       "summary": known, "goal": goal_name, "hidden": hidden,
                                                       "step_sync": step_sync}})

    def history(self, history: Any) -> None:
        """One logged row: every item (``_step`` and ``_timestamp`` become the record's step and time)."""
        row, special = self.row_of(history)
        step = row.pop("_step", None)
        if type(step) is not int:
            step = history.step.num if history.step.num else self.step + 1
        t = row.pop("_timestamp", None)
        if type(t) is not float:
            t = float(t) if isinstance(t, int) else self.t
        types = set(map(type, row.values()))
        data = row
        if dict in types or list in types:
            data = self.flatten(row, step)
            special = True
        if special:
            data = tag_row(data)
        self.add_row(step, t, row, data)

    def row_of(self, history: Any) -> tuple[dict[str, Any], bool]:
        """The items of a history record as a row, and whether any is not a plain JSON value of one key.
        A row of plain numbers teaches ``shapes`` its keys, so that the rows alike are read from their bytes."""
        row: dict[str, Any] = {}
        special = False
        specials = _SPECIAL
        loads = orjson.loads
        keys: list[str] = []
        nested_keys = plain = 0  # items named by nested_key / by key (a row of both is not learnt)
        for item in history.item:
            nested = item.nested_key
            text = item.value_json
            value = specials.get(text)
            if value is not None:
                special = True
            else:
                try:
                    value = loads(text)
                except orjson.JSONDecodeError:
                    value = json.loads(text)  # NaN inside a list or dict, or an integer beyond 64 bits
            if len(nested) == 1:
                row[nested[0]] = value
                keys.append(nested[0])
                nested_keys += 1
            elif nested:
                _set_nested(row, nested, value)
                special = True
            else:
                row[item.key] = value
                keys.append(item.key)
                plain += 1
        if not special and (nested_keys == 0) != (plain == 0) and self.shapes.wants(keys) \
                and all(is_number_text(item.value_json) for item in history.item):
            self.shapes.learn(keys, nested=nested_keys > 0)
        return row, special

    def add_row(self, step: int, t: float, row: dict[str, Any], data: dict[str, Any]) -> None:
        """Write one row (``data``, its values as the log keeps them) at ``step`` and time ``t``."""
        self.last.update(row)
        if step > self.step:
            self.step = step
        self.rows += 1
        if not self.rows % 100_000 and self.say is not None:
            self.say(f"  {self.rows:,} rows")
        self.points += len(data) - ("_runtime" in data)
        if t > self.t:
            self.t = t
        writer = self.writer
        if writer is None:
            self.emit({"type": "log", "step": step, "data": data}, t)
        else:
            writer.append_log(step, t, data)

    def add_lines(self, lines: bytes, count: int, points: int, step: int, t: float, last: dict[str, Any]) -> None:
        """Write ``count`` rows whose log lines another process made (see ``_Log.append_lines``): ``points``
        values in all, the largest step and time ``step`` and ``t``, ``last`` the last value of each key."""
        self.last.update(last)
        if step > self.step:
            self.step = step
        before, self.rows = self.rows, self.rows + count
        if self.say is not None:
            for done in range((before // 100_000 + 1) * 100_000, self.rows + 1, 100_000):
                self.say(f"  {done:,} rows")
        self.points += points
        if t > self.t:
            self.t = t
        assert self.writer is not None  # the caller checks
        self.writer.append_lines(lines)

    def flatten(self, row: dict[str, Any], step: int) -> dict[str, Any]:
        """Nested values as ``a.b`` keys (W&B's names), media as stored media tags."""
        if not any(type(v) is dict or type(v) is list for v in row.values()):
            return row
        flat: dict[str, Any] = {}
        for key, value in row.items():
            if type(value) is dict:
                if "_type" in value:
                    self.media.store(self.folder, self.run_dir.path, flat, key, value, step)
                else:
                    for inner, inner_value in _flat_items(key, value):
                        flat[inner] = inner_value
            elif type(value) is list:
                flat[key] = value if all(not isinstance(v, (dict, list)) for v in value) else orjson.dumps(
                    value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
            else:
                flat[key] = value
        return flat

    def on_summary(self, summary: Any) -> None:
        for item in summary.update:
            _set_nested(self.summary, _item_keys(item), _loads(item.value_json))
        for item in summary.remove:
            _unset_nested(self.summary, _item_keys(item))

    def on_stats(self, stats: Any) -> None:
        data = {item.key: _loads(item.value_json) for item in stats.item}
        self.fidelity.count("system samples")
        self.emit({"type": "system", "data": tag_row(data)}, _time(stats.timestamp))

    def on_output_raw(self, output: Any) -> None:
        self.console.append(output.line)
        t = _time(output.timestamp)
        if t is not None:
            self.t = max(self.t, t)

    def on_output(self, output: Any) -> None:
        self.on_output_raw(output)

    def on_environment(self, env: Any) -> None:
        data: dict[str, Any] = {"command": [env.program, *env.args] if env.program else None,
                                "cwd": env.root or None, "python": {"version": env.python} if env.python else None,
                                "host": {"hostname": env.host, "os": env.os, "cpu_count": env.cpu_count or None}}
        if env.git.remote_url or env.git.commit:
            data["git"] = {"remote": env.git.remote_url or None, "commit": env.git.commit or None}
        if env.gpu_type:
            data["gpu"] = {"count": env.gpu_count, "names": [env.gpu_type]}
        self.emit({"type": "provenance", "data": encode_tree({k: v for k, v in data.items() if v is not None})},
                  _time(env.started_at))

    def on_alert(self, alert: Any) -> None:
        level = {0: "INFO", 1: "WARN", 2: "ERROR"}.get(alert.level, "INFO")
        self.emit({"type": "alert", "level": level, "title": alert.title, "text": alert.text,
                   "step": self.step if self.step >= 0 else None})
        self.fidelity.count("alerts")

    def on_artifact(self, artifact: Any) -> None:
        if artifact.type == "run_table":  # the artifact W&B makes for each logged table: the table moved as media
            return
        self.artifacts.append(("logged", artifact))

    def on_use_artifact(self, use: Any) -> None:
        self.artifacts.append(("used", use))

    def on_preempting(self, _: Any) -> None:
        self.emit({"type": "preempting"})

    def on_tbrecord(self, _: Any) -> None:
        self.fidelity.drop("tensorboard records", "W&B's sync_tensorboard records: import the event files with "
                           "`tracker import tensorboard`")

    def on_exit(self, exit_record: Any) -> None:
        self.exit = (int(exit_record.exit_code), float(exit_record.runtime))

    # ----- the end ---------------------------------------------------------------------------

    def finish(self, root: str) -> None:
        """Artifacts, the summary values W&B set itself and the final state."""
        from tracker_core.migrate._wandb_artifacts import import_artifacts

        self.fidelity.count("points", self.points)
        import_artifacts(root, f"{self.meta['project']}/{self.meta['id']}", self.artifacts, self.fidelity, self.emit)
        explicit: dict[str, Any] = {}
        for key, value in self.summary.items():
            if key.startswith("_") or key in self.defined:
                continue
            if isinstance(value, dict) and "_type" in value:
                if not _same(value, self.last.get(key)):
                    self.fidelity.drop("summary media", "a medium set only in the summary (not in history)")
                continue
            if key in self.last and _same(value, self.last[key]):
                continue
            explicit[key] = value
        if explicit:
            self.emit({"type": "summary", "set": encode_tree(explicit)})
        self.fidelity.count("summary values", len([k for k in self.summary if not k.startswith("_")]))
        started = float(self.meta.get("started") or self.t)
        if self.exit is None:
            final: dict[str, Any] = {"status": "crashed", "exit_code": None}
            end = self.t
            self.fidelity.drop("final state", "the W&B run has no exit record (it crashed or is still running): "
                               "imported as crashed")
        else:
            code, runtime = self.exit
            final = {"status": "finished" if code == 0 else "failed", "exit_code": code}
            end = max(self.t, started + runtime)
        self.emit({"type": "status", **final}, end)
        assert self.writer is not None
        self.writer.close()
        self.meta.update(final, ended=end, records=self.writer.seq, records_not_written=0)

    def copy_files(self, folders: list[str]) -> None:
        """The run folders' ``files/`` (config.yaml, requirements, code, saved files; not ``media/``) into
        ours; the console from the records when the folder has no output.log."""
        target = self.run_dir.files
        for folder in folders:
            files = os.path.join(folder, "files")
            if not os.path.isdir(files):
                continue
            copy_run_files(files, target, self.fidelity)
        log = os.path.join(target, "output.log")
        if self.console and not os.path.exists(log):
            with open(log, "w", encoding="utf-8") as handle:
                handle.write("".join(self.console))
            self.fidelity.count("files")
        if self.console:
            self.fidelity.count("console lines", sum(line.count("\n") for line in self.console) or 1)


def _flat_items(prefix: str, value: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    for key, inner in value.items():
        full = f"{prefix}.{key}"
        if type(inner) is dict and "_type" not in inner:
            yield from _flat_items(full, inner)
        else:
            yield full, inner


def import_wandb(source: str, root: str, project: str | None = None, progress: Progress | None = None) -> Fidelity:
    """Import every W&B run under ``source`` into the store at ``root`` (see the module docstring).

    A corrupt or torn ``.wandb`` file, a record that cannot be decoded or a run that fails is reported in
    the returned fidelity's errors (naming the file), and everything else is imported.

    Raises:
        WandbMissing: the wandb package is not installed.
        TrackerError: ``source`` holds no W&B run.
        OSError: the store cannot be written.
    """
    pb = wandb_records("tracker import wandb")
    runs = find_wandb_runs(source)
    fidelity = Fidelity("W&B", "tracker")
    say = progress or (lambda text: print(text, file=sys.stderr))
    for number, source_run in enumerate(runs, 1):
        label = f"[{number}/{len(runs)}] W&B run {source_run.run_id}"
        try:
            say(f"{label} ...")
            outcome = _import_one(pb, source_run, root, project, fidelity, say)
        except (OSError, TrackerError) as error:
            fidelity.error(source_run.files[0], f"the run could not be imported: {error}")
            say(f"{label}: failed ({error})")
            continue
        if outcome is None:
            say(f"{label}: unchanged since the last import, skipped")
            continue
        run_dir, builder = outcome
        say(f"{label} -> {run_dir.project}/{run_dir.run_id}: {builder.rows:,} rows, "
            f"{builder.meta.get('status')}")
    return fidelity


def _import_one(pb: Any, source: _Source, root: str, project: str | None, fidelity: Fidelity,
                say: Progress) -> tuple[RunDir, _RunBuilder] | None:
    """Build one run beside the store and move it into place; None when it is already imported unchanged."""
    from tracker_core.migrate._wandb_halves import feed_file  # it builds on this module's _RunBuilder

    key = source.key()
    staging_root = os.path.join(root, ".imports")
    staging = RunDir(staging_root, "wandb", source.run_id)
    if os.path.isdir(staging.path):
        shutil.rmtree(staging.path)  # what an interrupted import left
    run_fidelity = Fidelity(fidelity.source, fidelity.destination)
    builder = _RunBuilder(pb, staging, run_fidelity, project, say)
    for path in source.files:
        with collector_paused():  # millions of short-lived rows: the cyclic collector's passes cost a third
            feed_file(builder, path, run_fidelity)
    if not builder.meta:
        fidelity.merge(run_fidelity)
        raise TrackerError(f"{source.files[0]} holds no run record (its start is missing or corrupt)")
    target = RunDir(root, builder.meta["project"], source.run_id)
    previous = target.read_meta()
    if previous is not None and (previous.get("imported_from") or {}).get("files") == key:
        shutil.rmtree(staging.path)
        return None
    builder.finish(root)
    builder.copy_files([os.path.dirname(path) for path in source.files])
    builder.meta["imported_from"] = {"source": "wandb", "files": key}
    staging.write_meta(builder.meta)
    fidelity.merge(run_fidelity)
    fidelity.count("runs")
    _move_into_place(staging, target)
    return target, builder


def _move_into_place(staging: RunDir, target: RunDir) -> None:
    """Replace ``target``'s folder with the complete one built in ``staging``; raises OSError."""
    os.makedirs(os.path.dirname(target.path), exist_ok=True)
    if os.path.isdir(target.path):
        old = f"{staging.path}.old"
        if os.path.isdir(old):
            shutil.rmtree(old)
        os.replace(target.path, old)
        os.replace(staging.path, target.path)
        shutil.rmtree(old)
    else:
        os.replace(staging.path, target.path)

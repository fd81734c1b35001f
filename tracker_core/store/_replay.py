"""Rebuild a run's state from its log: the log is the source of truth."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tracker_core._encoding import decode_row, decode_tree
from tracker_core._step import MetricDefinition, MetricRules, SummaryBuilder

__all__ = ["RunState"]

_ENVELOPE = ("seq", "t", "type")


def _has_tags(row: dict[str, Any]) -> bool:
    return dict in set(map(type, row.values()))


class RunState:
    """Everything a run's records say, folded in log order.

    With ``keep_rows=False`` the rows themselves are not kept (less memory for listing);
    a log with a ``rewind`` record needs them, so the caller must keep them then.
    """

    def __init__(self, keep_rows: bool = True) -> None:
        self.keep_rows = keep_rows
        self.meta: dict[str, Any] = {}
        self.config: dict[str, Any] = {}
        self.rules = MetricRules()
        self.summary = SummaryBuilder(self.rules)
        self.entries: list[tuple[int, float, dict[str, Any]]] = []  # (step, t, row), superseded ones removed
        self.status: str | None = None
        self.exit_code: int | None = None
        self.traceback: str | None = None
        self.signal: str | None = None
        self.preempted = False
        self.provenance: dict[str, Any] | None = None
        self.last_seq = 0
        self.seq_gaps = 0
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.next_step = 0
        self.writes_failed = 0
        self.ended_t: float | None = None
        self.extremes: dict[str, list[Any]] = {}  # metric -> [min, step of min, max, step of max]
        self.system: list[dict[str, Any]] = []  # system metrics samples, against wall-clock time
        self.artifacts: list[dict[str, Any]] = []  # {"direction": "logged"|"used", "name", "version", "digest"}

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]], keep_rows: bool = True) -> RunState:
        state = cls(keep_rows)
        for record in records:
            state.apply(record)
        return state

    def apply(self, record: dict[str, Any]) -> None:
        """Fold one record in; records of unknown types are skipped (written by a newer version)."""
        seq = record.get("seq")
        if type(seq) is int:
            if seq != self.last_seq + 1:
                self.seq_gaps += 1
            self.last_seq = seq
        t = record.get("t")
        kind = record.get("type")
        if (type(t) is float or type(t) is int) and kind != "meta":  # an edit is not the writer's activity
            if self.first_t is None:
                self.first_t = t
            self.last_t = t
        if kind == "log":
            self._on_log(record)
            return
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(record)

    def _on_run(self, record: dict[str, Any]) -> None:
        self.meta.update({k: v for k, v in record.items() if k not in _ENVELOPE})

    def _on_meta(self, record: dict[str, Any]) -> None:
        self.meta.update(record.get("set") or {})

    def _on_config(self, record: dict[str, Any]) -> None:
        self.config.update(decode_tree(record.get("data") or {}))  # type: ignore[call-overload]

    def _on_define_metric(self, record: dict[str, Any]) -> None:
        self.rules.add(MetricDefinition.from_record(record["metric"]))

    def _on_log(self, record: dict[str, Any]) -> None:
        step = record.get("step")
        if type(step) is not int:
            step = self.next_step
        row = record.get("data") or {}
        if _has_tags(row):
            row = decode_row(row)
        if self.keep_rows:
            self.entries.append((step, record.get("t", 0.0), row))
        self.summary.add(row)
        self._fold_extremes(step, row)
        if step >= self.next_step:
            self.next_step = step + 1

    def _fold_extremes(self, step: int, row: dict[str, Any]) -> None:
        """Track min and max of numeric values (the first step on ties); NaN and booleans never count."""
        extremes = self.extremes
        for key, value in row.items():
            kind = type(value)
            if (kind is not float and kind is not int) or value != value:
                continue
            best = extremes.get(key)
            if best is None:
                extremes[key] = [value, step, value, step]
            elif value < best[0]:
                best[0], best[1] = value, step
            elif value > best[2]:
                best[2], best[3] = value, step

    def _on_log_aside(self, record: dict[str, Any]) -> None:
        self.summary.out_of_order += 1

    def _on_summary(self, record: dict[str, Any]) -> None:
        self.summary.set(decode_tree(record.get("set") or {}))  # type: ignore[arg-type]
        self.summary.unset(record.get("unset") or ())

    def _on_rewind(self, record: dict[str, Any]) -> None:
        last_kept = int(record["step"])
        self.entries = [entry for entry in self.entries if entry[0] <= last_kept]
        rebuilt = SummaryBuilder(self.rules)
        rebuilt.overrides, rebuilt.removed = self.summary.overrides, self.summary.removed
        rebuilt.out_of_order = self.summary.out_of_order
        self.extremes = {}
        for step, _, row in self.entries:
            rebuilt.add(row)
            self._fold_extremes(step, row)
        self.summary = rebuilt
        self.next_step = last_kept + 1

    def _on_status(self, record: dict[str, Any]) -> None:
        self.status = record.get("status")
        self.exit_code = record.get("exit_code")
        self.traceback = record.get("traceback")
        self.preempted = bool(record.get("preempted"))
        if self.status == "running":
            self.signal = None
            self.ended_t = None
        else:
            self.signal = record.get("signal") or self.signal  # a KeyboardInterrupt raised in code has no signal record
            self.ended_t = record.get("t")

    def _on_signal(self, record: dict[str, Any]) -> None:
        self.signal = record.get("signal")

    def _on_provenance(self, record: dict[str, Any]) -> None:
        self.provenance = decode_tree(record.get("data") or {})  # type: ignore[assignment]

    def _on_system(self, record: dict[str, Any]) -> None:
        self.system.append({"_timestamp": record.get("t"), **decode_row(record.get("data") or {})})

    def _on_artifact(self, record: dict[str, Any]) -> None:
        self.artifacts.append({k: v for k, v in record.items() if k not in _ENVELOPE})

    def _on_write_failures(self, record: dict[str, Any]) -> None:
        self.writes_failed += int(record.get("count", 0))

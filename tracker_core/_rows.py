"""The row path: one ``log()`` row from the user's dict to the log, one way.

normalise (``_encoding``; a row that is already plain is taken as it is) -> tag NaN/±Inf and store
media (``_media_store``) -> step rules (``_step``: the step counter, step metrics, plateaus) ->
``LogWriter.append_row``. A row behind the current step is kept aside; ``define_metric`` and
rewinds change the rules and the step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tracker_core import _lifecycle
from tracker_core._encoding import Problem, is_media, normalize_row, plain_row, tag_row, tag_scalar
from tracker_core._errors import StepOrderError, TrackerError
from tracker_core._media_store import store_media
from tracker_core._notices import warn
from tracker_core._records import _deferred_signals, after_write
from tracker_core._step import MetricDefinition, MetricRules, Plateaus, Stall, define

if TYPE_CHECKING:
    from tracker_core._notices import Notices
    from tracker_core._records import RunRecords

__all__ = ["RowPath"]

_lifecycle.takes_run_locks(__file__)

_time = time.time


def _as_row(data: object) -> tuple[dict[str, Any], list[Problem], bool]:
    if isinstance(data, Mapping):
        return normalize_row(data)
    return {}, [Problem("<data>", data, "log() takes a dict of metric name -> value")], False


class RowPath:
    """Turns ``log()`` calls into ``log`` (and ``log_aside``) records; owns the run's step.

    ``pending``: gradient statistics from ``watch`` that join the next row. ``on_stalls``: told
    when metrics with ``alert_after`` stop improving.
    """

    def __init__(self, records: RunRecords, notices: Notices, *, step: int, raise_on_backward: bool) -> None:
        self._records = records
        self._notices = notices
        self.step = step  # the step the next log() without step= goes to
        self._rules = MetricRules(records.state.rules.definitions())  # for decisions while writing
        self._rules_active = self._rules.active
        self._plateaus = Plateaus(self._rules)
        self._axis_values: dict[str, Any] = {}  # latest value of each step metric, for step_sync
        self._raise_on_backward = raise_on_backward
        self.pending: dict[str, Any] | None = None
        self.on_stalls: Callable[[list[Stall]], None] = lambda stalls: None
        self.stop_reason: str | None = None  # set when a sweep asks the run to stop (Run.should_stop)

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        """Append one row of metrics to the run's history (``Run.log``, whose documentation this is:
        each run's ``log`` is this method).

        Raises (strict mode only):
            LogValueError: a value or key cannot be logged.
            StepOrderError: ``step`` is behind the run's current step.
            PersistError: the record could not be written.
        """
        records = self._records
        if records.inactive is not None:
            self._notices.inactive_call("log", records.inactive)
            return
        if self.stop_reason is not None:  # a sweep asked the run to stop: the one check this path pays for it
            from tracker_core._errors import RunStopped

            raise RunStopped(records.run_id, self.stop_reason)
        if self.pending is not None:  # gradient statistics wait for the user's next row
            data = self._with_pending(data)
        stalls = None
        try:
            row = plain_row(data) if type(data) is dict else None  # the common row, as it comes
            if row is None:
                row, problems, special = normalize_row(data) if type(data) is dict else _as_row(data)
                if problems:
                    self._notices.report_problems(problems)
                if special:  # NaN/±Inf to tag, media to encode and store: on the caller's thread, outside the lock
                    row = self._encode_special(row)
            if step is not None and (type(step) is not int or step < 0):
                step = self._checked_step(step)
            lock = records.lock
            lock.acquire()  # not `with`: explicit acquire/release costs half as much here
            try:
                if records.inactive is not None:
                    return
                current = self.step
                if step is None:
                    step = current
                    if commit is not False:
                        self.step = current + 1
                elif step >= current:
                    self.step = step + 1 if commit else step
                else:
                    self._log_behind(row, step, current)
                    return
                if self._rules_active:
                    row = self._sync_step_metrics(row)
                    if self._plateaus.active:
                        stalls = self._plateaus.observe(row, step)
                writer = records.writer
                ok = writer.append_row({"seq": writer.seq + 1, "t": _time(), "type": "log", "step": step,  # type: ignore[union-attr]
                                        "data": row})
            finally:
                lock.release()
            if not ok:
                self._notices.write_failed(records.writer)
            if stalls:
                self.on_stalls(stalls)
        except TrackerError:
            raise
        except Exception as exc:  # noqa: BLE001 - logging must never kill training (DESIGN principle 1)
            self._notices.internal_error("log", exc)
        finally:
            if _deferred_signals:
                after_write()

    def _with_pending(self, data: Any) -> Any:
        stats, self.pending = self.pending, None
        return {**stats, **data} if isinstance(data, Mapping) and stats else data

    def _encode_special(self, row: dict[str, Any]) -> dict[str, Any]:
        """Tag NaN/±Inf and big integers; encode media values and store their files in the run folder.

        A media value that cannot be encoded or stored is left out (a warning; LogValueError in strict mode).
        """
        run_dir = self._records.run_dir
        encoded: dict[str, Any] = {}
        problems: list[Problem] = []
        for key, value in row.items():
            if not is_media(value):
                encoded[key] = tag_scalar(value)
                continue
            try:
                encoded[key] = store_media(value, run_dir.path, key, problems) if run_dir else None
            except (TrackerError, OSError, TypeError, ValueError) as exc:
                problems.append(Problem(key, value, f"it could not be stored: {exc}"))
        if problems:
            self._notices.report_problems(problems)
        return encoded

    def _sync_step_metrics(self, row: dict[str, Any]) -> dict[str, Any]:
        """Remember step-metric values; fill in a missing one (step_sync). Holds the lock."""
        axes = self._axis_values
        for key in self._rules.step_metrics.intersection(row):
            axes[key] = row[key]
        synced = self._rules.sync_step_metrics(row, axes)
        return row if synced is None else synced

    def _checked_step(self, step: object) -> int | None:
        """An int step from numpy/torch integers or integral floats; None (after a warning) otherwise."""
        value = step.item() if hasattr(step, "item") and len(getattr(step, "shape", ())) == 0 else step
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return int(value)
        reason = "step must be an integer >= 0; the row was logged as if no step was given"
        self._notices.report_problems([Problem("step", step, reason)])
        return None

    def _log_behind(self, row: dict[str, Any], step: int, current: int) -> None:
        """Write what has its own axis at ``step``; keep the rest aside. Holds the lock."""
        own = {k: v for k, v in row.items() if self._rules.has_own_axis(k)} if self._rules.active else {}
        rest = {k: v for k, v in row.items() if k not in own}
        writer = self._records.writer
        assert writer is not None
        ok = True
        if own:
            ok = writer.append_row({"seq": writer.seq + 1, "t": _time(), "type": "log", "step": step,
                                    "data": self._sync_step_metrics(own)})
        if rest:
            ok = writer.append({"seq": writer.seq + 1, "t": _time(), "type": "log_aside", "step": step,
                                "current_step": current, "data": tag_row(rest)}) and ok
            warned = self._notices.warned
            fresh = [k for k in rest if ("behind", k) not in warned]
            warned.update(("behind", k) for k in fresh)
            if self._raise_on_backward:
                raise StepOrderError(sorted(rest), step, current)
            if fresh:
                warn(f"tracker: {', '.join(map(repr, fresh))} logged at step {step}, behind the run's step "
                     f"{current}; the record was kept aside (not in history) and counted in "
                     f"summary['_tracker/out_of_order_records'].\nHint: give such metrics their own axis with "
                     f"define_metric(name, step_metric=...), or rewind with init(resume_from_step=...).")
        if not ok:
            self._notices.write_failed(writer)

    def define_metric(self, name: str, step_metric: str | None, summary: str | None, goal: str | None,
                      hidden: bool, step_sync: bool, alert_after: int | None) -> None:
        """``Run.define_metric``: see there.

        Raises:
            SettingsError: a wrong type or an unknown option; ``alert_after`` without a goal.
        """
        self.add_definition(define(name, step_metric, summary, goal, hidden, step_sync, alert_after))

    def add_definition(self, definition: MetricDefinition) -> None:
        """Apply a checked metric definition from now on and record it."""
        self._rules.add(definition)
        self._rules_active = True
        if definition.alert_after:
            self._plateaus.active = True
        self._records.append({"type": "define_metric", "metric": definition.record()})

    def rewind(self, step: int) -> None:
        """Supersede history after ``step`` (resume_from_step): write the record, fold it in, go on at step + 1."""
        records = self._records
        records.append({"type": "rewind", "step": step})
        if records.follower is not None:
            state = records.follower.state()
            state.keep_rows, state.entries = False, []  # rows were kept only for this
            self.step = state.next_step

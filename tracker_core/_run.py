"""``Run``: the user's handle on one training run. Thin: it orders calls and delegates
encoding to ``_encoding``, metric rules to ``_step`` and writing to ``store``."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tracker_core import _background, _lifecycle  # noqa: F401 - _background registers the built-in services
from tracker_core._artifact_handle import StoredArtifact
from tracker_core._config import Config
from tracker_core._encoding import ACCEPTED_SCALARS, Problem, encode_tree, is_media, normalize_row, tag_row, tag_scalar
from tracker_core._errors import (
    LogValueError,
    PersistError,
    SettingsError,
    StepOrderError,
    TrackerError,
    TrackerWarning,
)
from tracker_core._media_store import store_media
from tracker_core._services import RunServices, ServiceContext
from tracker_core._step import MetricRules, Plateaus, Stall, SummaryBuilder, define
from tracker_core._summary import Summary
from tracker_core.alerts._dispatch import RunAlerts, checked_alert
from tracker_core.alerts._level import AlertLevel
from tracker_core.store._follow import LogFollower
from tracker_core.store._replay import RunState

if TYPE_CHECKING:
    from tracker_core._settings import Settings
    from tracker_core.artifacts import Artifact, ArtifactStore
    from tracker_core.store._lock import WriterLock
    from tracker_core.store._log import LogWriter
    from tracker_core.store._run_dir import RunDir

__all__ = ["Run"]

_time = time.time
_deferred_signals = _lifecycle._deferred  # the same list object: one lookup less per log()
_live_runs: list[Run] = []  # for the fork hook


def _warn(message: str) -> None:
    warnings.warn(message, TrackerWarning, stacklevel=4)


class Run:
    """One training run. Create it with ``tracker_core.init()``.

    Every method is thread-safe. In a writing run each call appends records to
    ``<dir>/events.jsonl`` before it returns. An inactive run (``mode="disabled"``,
    a non-zero rank, or after ``finish()``/``detach()``) accepts every call and
    writes nothing.
    """

    def __init__(self, settings: Settings, config: Mapping[str, Any], *, run_id: str,
                 inactive: str | None = None, run_dir: RunDir | None = None,
                 writer: LogWriter | None = None, lock: WriterLock | None = None,
                 meta: Mapping[str, Any] | None = None, state: RunState | None = None) -> None:
        self.settings = settings
        self.id = run_id
        self._meta = dict(meta or {})
        self._inactive = inactive
        self._dir = run_dir
        self._writer = writer
        self._lock_file = lock
        self._lock = threading.Lock()
        state = state if state is not None else RunState(keep_rows=False)
        self._state = state  # what the log says, folded in when the summary is read
        self._follower = LogFollower(writer.path, state) if writer is not None else None
        self._rules = MetricRules(state.rules.definitions())  # for decisions while writing
        self._rules_active = self._rules.active
        self._plateaus = Plateaus(self._rules)
        self._axis_values: dict[str, Any] = {}  # latest value of each step metric, for step_sync
        self._step = state.next_step
        self._strict = settings.strict
        self._raise_on_backward = settings.effective_step_policy == "raise"
        self.owner_pid = os.getpid()
        self._warned: set[object] = set()
        self._signal: tuple[int, int] | None = None  # (signum, step when it arrived)
        self._preempting = False
        self._closing = threading.Lock()
        self._finish_callbacks: list[Callable[[Run], None]] = []
        self._services = RunServices()
        self._watchers: list[tuple[weakref.ref[Any], Any]] = []  # (model, tracker_core._watch.Watcher)
        self._watch_stats: dict[str, Any] | None = None
        self._alerts = RunAlerts(self._append, self._alert_origin, os.path.dirname(run_dir.path) if run_dir else None,
                                 f"tracker-alerts-{run_id}")
        self.config = Config(config, on_change=self._record_config, on_problems=self._report_problems)
        self.summary = Summary(self._live_summary, self._record_summary_set, self._record_summary_unset)

    # ----- identity -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._meta.get("name") or self.id

    @property
    def project(self) -> str:
        return self.settings.project

    @property
    def entity(self) -> str | None:
        return self._meta.get("entity")

    @property
    def group(self) -> str | None:
        return self._meta.get("group")

    @property
    def job_type(self) -> str | None:
        return self._meta.get("job_type")

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self._meta.get("tags") or ())

    @property
    def notes(self) -> str | None:
        return self._meta.get("notes")

    @property
    def path(self) -> str:
        """``project/run_id``, as accepted by ``Api().run()``."""
        return f"{self.project}/{self.id}"

    @property
    def dir(self) -> str | None:
        """The run's folder, or None for an inactive run that has none."""
        return self._dir.path if self._dir else None

    @property
    def step(self) -> int:
        """The step the next ``log()`` without ``step=`` goes to."""
        return self._step

    @property
    def disabled(self) -> bool:
        """True if this run writes nothing (disabled mode or a non-zero rank)."""
        return self._inactive in ("disabled", "rank")

    def __repr__(self) -> str:
        state = self._inactive or "running"
        return f"<Run {self.path} name={self.name!r} {state}>"

    # ----- logging -------------------------------------------------------------------------

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        """Append one row of metrics to the run's history.

        Without ``step``, the row goes to the current step, which then advances
        (unless ``commit=False``). With ``step``, rows of the same step merge when
        read back; a step lower than the current one is kept aside and counted
        (or raises in strict mode). Bad keys or values are left out with one warning.

        Raises (strict mode only):
            LogValueError: a value or key cannot be logged.
            StepOrderError: ``step`` is behind the run's current step.
            PersistError: the record could not be written.
        """
        if self._inactive is not None:
            self._inactive_call("log")
            return
        if self._watch_stats is not None:  # gradient statistics wait for the user's next row
            data = self._with_watch_stats(data)
        stalls = None
        try:
            row, problems, special = normalize_row(data) if type(data) is dict else self._as_row(data)
            if problems:
                self._report_problems(problems)
            if special:  # NaN/±Inf to tag, media to encode and store: on the caller's thread, outside the lock
                row = self._encode_special(row)
            if step is not None and (type(step) is not int or step < 0):
                step = self._checked_step(step)
            lock = self._lock
            lock.acquire()  # not `with`: explicit acquire/release costs half as much here
            try:
                if self._inactive is not None:
                    return
                current = self._step
                if step is None:
                    step = current
                    if commit is not False:
                        self._step = current + 1
                elif step >= current:
                    self._step = step + 1 if commit else step
                else:
                    self._log_behind(row, step, current)
                    return
                if self._rules_active:
                    row = self._sync_step_metrics(row)
                    if self._plateaus.active:
                        stalls = self._plateaus.observe(row, step)
                writer = self._writer
                ok = writer.append_row({"seq": writer.seq + 1, "t": _time(), "type": "log", "step": step,  # type: ignore[union-attr]
                                        "data": row})
            finally:
                lock.release()
            if not ok:
                self._write_failed()
            if stalls:
                self._alert_stalls(stalls)
        except TrackerError:
            raise
        except Exception as exc:  # noqa: BLE001 - logging must never kill training (DESIGN principle 1)
            self._internal_error("log", exc)
        finally:
            if _deferred_signals:
                self._handle_deferred_signal()

    def watch(self, model: Any, log: str = "gradients", log_freq: int = 100, include: Any = None,
              exclude: Any = None) -> None:
        """Record gradient and/or parameter statistics of a torch model every ``log_freq`` backward passes.

        Histograms (64 bins), per-tensor L2 norms and the global gradient norm join the user's next
        ``log()`` row. Non-finite gradients are counted, named and recorded as an alert. ``include`` /
        ``exclude``: glob patterns or a callable over parameter names. Nothing is computed on a run
        that writes nothing (other ranks) or on steps that are not logged.

        Raises:
            SettingsError: a bad argument, or a sharded model that cannot be watched correctly.
        """
        if self._inactive is not None:
            return
        from tracker_core._watch import Watcher

        try:
            watcher = Watcher(model, log, log_freq, include, exclude, on_stats=self._keep_watch_stats,
                              on_nonfinite=self._alert_nonfinite)
        except ValueError as exc:
            raise SettingsError("watch()", str(exc)) from None
        self._watchers.append((weakref.ref(model), watcher))

    def unwatch(self, model: Any = None) -> None:
        """Remove the hooks of ``watch`` (for ``model``, or for every watched model)."""
        for entry in list(self._watchers):
            watched = entry[0]()
            if model is None or watched is None or watched is model:
                entry[1].remove()
                self._watchers.remove(entry)

    def _keep_watch_stats(self, stats: dict[str, Any]) -> None:
        self._watch_stats = stats  # replaced if the user logs nothing in between: the newest counts

    def _with_watch_stats(self, data: Any) -> Any:
        stats, self._watch_stats = self._watch_stats, None
        return {**stats, **data} if isinstance(data, Mapping) and stats else data

    def _alert_nonfinite(self, names: list[str], backward_step: int) -> None:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        self._library_alert("Non-finite gradients", f"NaN or Inf in the gradients of {shown} at backward pass "
                            f"{backward_step}", AlertLevel.ERROR, "watch", {"parameters": names}, wait_duration=600.0)

    def _as_row(self, data: object) -> tuple[dict[str, Any], list[Problem], bool]:
        if isinstance(data, Mapping):
            return normalize_row(data)
        return {}, [Problem("<data>", data, "log() takes a dict of metric name -> value")], False

    def _encode_special(self, row: dict[str, Any]) -> dict[str, Any]:
        """Tag NaN/±Inf and big integers; encode media values and store their files in the run folder.

        A media value that cannot be encoded or stored is left out (a warning; LogValueError in strict mode).
        """
        encoded: dict[str, Any] = {}
        problems = []
        for key, value in row.items():
            if not is_media(value):
                encoded[key] = tag_scalar(value)
                continue
            try:
                encoded[key] = store_media(value, self._dir.path) if self._dir else None
            except (TrackerError, OSError, TypeError, ValueError) as exc:
                problems.append(Problem(key, value, f"it could not be stored: {exc}"))
        if problems:
            self._report_problems(problems)
        return encoded

    def _sync_step_metrics(self, row: dict[str, Any]) -> dict[str, Any]:
        """Remember step-metric values; fill in a missing one (step_sync). Holds the lock."""
        axes = self._axis_values
        for key in self._rules.step_metrics.intersection(row):
            axes[key] = row[key]
        synced = self._rules.sync_step_metrics(row, axes)
        return row if synced is None else synced

    def _live_summary(self) -> SummaryBuilder:
        if self._follower is None:
            return self._state.summary
        return self._follower.state().summary

    def _checked_step(self, step: object) -> int | None:
        """An int step from numpy/torch integers or integral floats; None (after a warning) otherwise."""
        value = step.item() if hasattr(step, "item") and len(getattr(step, "shape", ())) == 0 else step
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return int(value)
        reason = "step must be an integer >= 0; the row was logged as if no step was given"
        self._report_problems([Problem("step", step, reason)])
        return None

    def _log_behind(self, row: dict[str, Any], step: int, current: int) -> None:
        """Write what has its own axis at ``step``; keep the rest aside. Holds the lock."""
        own = {k: v for k, v in row.items() if self._rules.has_own_axis(k)} if self._rules.active else {}
        rest = {k: v for k, v in row.items() if k not in own}
        writer = self._writer
        assert writer is not None
        ok = True
        if own:
            ok = writer.append_row({"seq": writer.seq + 1, "t": _time(), "type": "log", "step": step,
                                    "data": self._sync_step_metrics(own)})
        if rest:
            ok = writer.append({"seq": writer.seq + 1, "t": _time(), "type": "log_aside", "step": step,
                                "current_step": current, "data": tag_row(rest)}) and ok
            fresh = [k for k in rest if ("behind", k) not in self._warned]
            self._warned.update(("behind", k) for k in fresh)
            if self._raise_on_backward:
                raise StepOrderError(sorted(rest), step, current)
            if fresh:
                _warn(f"tracker: {', '.join(map(repr, fresh))} logged at step {step}, behind the run's step "
                      f"{current}; the record was kept aside (not in history) and counted in "
                      f"summary['_tracker/out_of_order_records'].\nHint: give such metrics their own axis with "
                      f"define_metric(name, step_metric=...), or rewind with init(resume_from_step=...).")
        if not ok:
            self._write_failed()

    def define_metric(self, name: str, step_metric: str | None = None, summary: str | None = None,
                      goal: str | None = None, hidden: bool = False, step_sync: bool = True,
                      alert_after: int | None = None) -> None:
        """Give metrics matching ``name`` (globs allowed) their own x-axis and/or summary aggregate.

        ``summary`` is a comma-separated choice of min, max, mean, first, last, best, none;
        ``goal`` ('minimize' or 'maximize') says what 'best' means. ``alert_after=N`` raises a WARN
        alert when the metric has not improved (by its goal) for N logged values, once per plateau.

        Raises:
            SettingsError: a wrong type or an unknown option; ``alert_after`` without a goal.
        """
        definition = define(name, step_metric, summary, goal, hidden, step_sync, alert_after)
        self._rules.add(definition)
        self._rules_active = True
        if definition.alert_after:
            self._plateaus.active = True
        self._append({"type": "define_metric", "metric": definition.record()})

    def _rewind(self, step: int) -> None:
        """Supersede history after ``step`` (resume_from_step): write the record, fold it in, go on at step + 1."""
        self._append({"type": "rewind", "step": step})
        if self._follower is not None:
            state = self._follower.state()
            state.keep_rows, state.entries = False, []  # rows were kept only for this
            self._step = state.next_step

    def log_artifact(self, artifact: Artifact, aliases: Sequence[str] = (), link: str | None = None
                     ) -> StoredArtifact | None:
        """Commit the artifact's files as its next version (none if unchanged since the latest) and
        record that this run produced it. ``latest`` moves automatically; ``aliases`` move to it.

        Side effects: files are stored once by content under ``<root>/artifacts``; ``link`` ("auto" or
        "hardlink", default ``TRACKER_ARTIFACT_LINK``) says how they enter the store: "hardlink" shares
        the file's inode with the store and makes it read-only (safe for files only ever replaced by rename).
        Returns None (and stores nothing) on a run that writes nothing.

        Raises:
            ArtifactError: a bad name, path, alias or link mode, or a file that cannot be read.
        """
        if self._inactive is not None or self._dir is None:
            self._inactive_call("log_artifact")
            return None
        store = self._artifact_store(link)
        version = store.commit(artifact, created_by=self.path, aliases=tuple(aliases))
        self._append({"type": "artifact", "direction": "logged", "name": version.name, "version": version.version,
                      "digest": version.digest, "aliases": list(version.aliases)})
        return StoredArtifact(store, version, self._dir.root)

    def use_artifact(self, ref: str) -> StoredArtifact:
        """An artifact version (``name``, ``name:latest``, ``name:v3``, ``name:<alias>``) as this run's input.

        The use is recorded (lineage) when this run writes; every rank may call it to download.

        Raises:
            ArtifactError: no such artifact, version or alias (the message lists what exists).
        """
        store = self._artifact_store()
        version = store.resolve(ref)
        if self._inactive is None and self._dir is not None:
            version = store.record_use(version, self.path)
            self._append({"type": "artifact", "direction": "used", "name": version.name,
                          "version": version.version, "digest": version.digest})
        return StoredArtifact(store, version, self._store_root())

    def _store_root(self) -> str:
        return self._dir.root if self._dir else os.path.abspath(os.path.expanduser(self.settings.dir))

    def _artifact_store(self, link: str | None = None) -> ArtifactStore:
        from tracker_core.artifacts import ArtifactStore

        return ArtifactStore(self._store_root(), link=link or self.settings.artifact_link)

    def mark_preempting(self) -> None:
        """Say that the job is about to be preempted (requeued): its final state will note it."""
        self._preempting = True
        self._append({"type": "preempting"})

    # ----- alerts ------------------------------------------------------------------------------

    def alert(self, title: str, text: str = "", level: AlertLevel | str = AlertLevel.INFO,
              wait_duration: float | timedelta | None = None) -> None:
        """Raise an alert: recorded in the run's log (with the current step), and sent in the background
        to the targets configured for its level (``tracker_core.alerts.configure``, TRACKER_ALERT_*, the
        project's ``.alerts.json``).
        Returns at once. An alert whose title was sent less than ``wait_duration`` seconds ago
        (default 60) is recorded as suppressed and not sent.

        Raises:
            SettingsError: a title or text that is not a string, an unknown level, a bad wait_duration.
        """
        title, text, checked_level, seconds = checked_alert(title, text, level, wait_duration)
        if self._inactive is not None:
            self._inactive_call("alert")
            return
        try:
            self._alerts.raise_alert(title, text, checked_level, seconds, self._step)
        except TrackerError:
            raise
        except Exception as exc:  # noqa: BLE001 - an alert must never kill training
            self._internal_error("alert", exc)

    def _library_alert(self, title: str, text: str, level: AlertLevel, source: str,
                       extra: dict[str, Any] | None = None, wait_duration: float = 60.0) -> None:
        """An alert the tracker raises itself; never raises."""
        try:
            self._alerts.raise_alert(title, text, level, wait_duration, self._step, source, extra, background=True)
        except Exception as exc:  # noqa: BLE001 - an alert must never kill training
            self._internal_error("alert", exc)

    def _alert_stalls(self, stalls: list[Stall]) -> None:
        for stall in stalls:
            self._library_alert(f"{stall.key} has not improved",
                                f"{stall.key} has not improved for {stall.evaluations} evaluations: best "
                                f"{stall.best:g} at step {stall.best_step}, latest {stall.latest:g} at step "
                                f"{stall.step}.", AlertLevel.WARN, "metric")

    def _alert_run_ended(self, status: str, exit_code: int, traceback_text: str | None,
                         signal_name: str | None) -> None:
        if traceback_text:
            cause = traceback_text.strip().splitlines()[-1]
        elif signal_name:
            cause = f"{signal_name}" + (" (preempted)" if self._preempting else "")
        else:
            cause = f"exit code {exit_code}"
        level = AlertLevel.ERROR if status == "failed" else AlertLevel.WARN
        self._library_alert(f"Run {self.name} {status}", f"Run {self.name} ({self.path}) {status} at step "
                            f"{self._step}: {cause}", level, "run", wait_duration=0.0)

    def _alert_origin(self) -> dict[str, Any]:
        return {"run_id": self.id, "run_name": self.name, "project": self.project, "run_dir": self.dir,
                "host": self._meta.get("host")}

    # ----- records other than rows -------------------------------------------------------------

    def _append(self, fields: dict[str, Any], background: bool = False) -> int:
        """Write one record (not a row) and return its seq; 0 (after a warning) if it could not be persisted.

        Raises:
            PersistError: strict mode, the record was not written, and the caller is the user's thread.
        """
        if self._inactive is not None:
            return 0
        with self._lock:
            if self._writer is None or self._inactive is not None:
                return 0
            seq = self._writer.seq + 1
            ok = self._writer.append({"seq": seq, "t": _time(), **fields})
        if not ok:
            self._write_failed(may_raise=not background)
        if _deferred_signals:
            self._handle_deferred_signal()
        return seq if ok else 0

    def _record_config(self, changed: dict[str, Any]) -> None:
        self._append({"type": "config", "data": encode_tree(changed)})

    def _record_summary_set(self, values: dict[str, Any]) -> None:
        from tracker_core._config import to_config_dict

        problems: list[Problem] = []
        plain = to_config_dict(values, problems)
        if problems:
            self._report_problems(problems)
        if self._follower is None:  # nothing is written: keep it in memory
            self._state.summary.set(plain)
        else:
            self._append({"type": "summary", "set": encode_tree(plain)})

    def _record_summary_unset(self, keys: list[str]) -> None:
        if self._follower is None:
            self._state.summary.unset(keys)
        else:
            self._append({"type": "summary", "unset": keys})

    # ----- problems ----------------------------------------------------------------------------

    def _report_problems(self, problems: list[Problem]) -> None:
        """Warn once per key about left-out values; raise LogValueError in strict mode."""
        if self._strict:
            first = problems[0]
            raise LogValueError(first.key, first.value, ACCEPTED_SCALARS + f" ({first.reason})")
        for problem in problems:
            marker = ("value", str(problem.key), type(problem.value).__name__)
            if marker not in self._warned:
                self._warned.add(marker)
                _warn(f"tracker: left out {problem.key!r}: {problem.reason} ({type(problem.value).__name__}); "
                      f"the rest of the row was logged. Accepted: {ACCEPTED_SCALARS}.")

    def _write_failed(self, may_raise: bool = True) -> None:
        writer = self._writer
        if writer is None:
            return
        if self._strict and may_raise:
            raise PersistError(f"tracker: could not write to {writer.path}: {writer.last_error}")
        if "write" not in self._warned:
            self._warned.add("write")
            _warn(f"tracker: could not write to {writer.path}: {writer.last_error}. Records that cannot be "
                  f"written are counted (run.json 'records_not_written') and training continues.")

    def _internal_error(self, where: str, exc: Exception) -> None:
        if ("internal", where) not in self._warned:
            self._warned.add(("internal", where))
            _warn(f"tracker: internal error in {where}(), the call was skipped: {exc!r}. "
                  f"Training continues; please report this.")

    def _inactive_call(self, what: str) -> None:
        reason = self._inactive
        if reason in ("disabled", "rank") or ("inactive", reason) in self._warned:
            return
        self._warned.add(("inactive", reason))
        hints = {
            "finished": "the run has finished; start a new one with tracker_core.init()",
            "detached": "the run was handed over with detach(); its new owner writes it",
            "forked": "this process was forked from the one that writes the run (a DataLoader worker?); "
                      "only the parent writes it",
        }
        _warn(f"tracker: {what}() on run {self.id} ignored: {hints.get(reason or '', reason)}.")

    # ----- signals and the end of the run ------------------------------------------------------

    def note_signal(self, signum: int) -> bool:
        """Record that a signal arrived; False if the run's lock is busy (the caller retries later)."""
        if self._inactive is not None:
            return True
        if not self._lock.acquire(timeout=0.05):
            return False
        try:
            self._signal = (signum, self._step)
            if self._writer is not None:
                self._writer.append({"seq": self._writer.seq + 1, "t": _time(), "type": "signal",
                                     "signal": signal.Signals(signum).name})
        finally:
            self._lock.release()
        return True

    def ended_by_signal(self) -> int | None:
        """The signal that ended the run: one arrived and nothing was logged after it."""
        if self._signal is not None and self._signal[1] == self._step:
            return self._signal[0]
        return None

    def _handle_deferred_signal(self) -> None:
        if threading.current_thread() is threading.main_thread():
            _lifecycle.handle_deferred_signal()

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """End the run: ``finished`` (exit code 0 or None) or ``failed`` (any other code).

        Idempotent, bounded by the ``finish_timeout`` setting, and safe from any thread.
        Side effects: writes the final status record, fsyncs the log, replaces run.json
        and releases the run's writer lock.

        Raises:
            SettingsError: ``exit_code`` is not an int.
        """
        if exit_code is not None and (not isinstance(exit_code, int) or isinstance(exit_code, bool)):
            raise SettingsError("exit_code", f"{exit_code!r} is not an int", "pass finish(exit_code=0) or another int")
        status = "failed" if exit_code else "finished"
        self._close(status, exit_code or 0, quiet=quiet)

    def finish_from_hook(self, status: str, exit_code: int, traceback_text: str | None = None,
                         signal_name: str | None = None) -> None:
        """Used by the process hooks; never raises.

        If a ``finish()`` is already under way (a signal or an exception landed while it waited
        for background threads), the hook's state is written now: the process may not get back
        to that ``finish()``.
        """
        try:
            if self._closing.locked() and self._inactive is None:
                self._write_final_now(status, exit_code, traceback_text, signal_name)
                return
            self._close(status, exit_code, traceback_text, signal_name)
        except Exception as exc:  # noqa: BLE001 - an exit hook must not fail the exit
            print(f"tracker: could not finish run {self.id}: {exc!r}", file=sys.stderr)

    def _close(self, status: str, exit_code: int, traceback_text: str | None = None,
               signal_name: str | None = None, quiet: bool | None = None) -> None:
        if not self._closing.acquire(blocking=False):
            return  # finishing already, or finished
        if self._inactive is not None:
            if self._inactive in ("disabled", "rank"):
                self._inactive = "finished" if self._inactive == "disabled" else self._inactive
                self._run_finish_callbacks()
            return
        deadline = time.monotonic() + self.settings.finish_timeout
        if status != "finished":
            self._alert_run_ended(status, exit_code, traceback_text, signal_name)
        self._stop_background(deadline)
        if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            print(f"tracker: run {self.id} is busy and could not be finished in time; "
                  f"readers will see it as crashed", file=sys.stderr)
            return
        try:
            if self._inactive is None:  # else a signal's hook already wrote the final state
                self._inactive = "finished"
                self._write_final_records(status, exit_code, traceback_text, signal_name)
        finally:
            self._lock.release()
        self._services.stop_after_final(time.monotonic() + self.settings.finish_timeout)
        _lifecycle.unregister(self)
        self._run_finish_callbacks()
        if _deferred_signals:
            self._handle_deferred_signal()
        if not (self.settings.silent if quiet is None else quiet):
            print(f"tracker: run {self.name} ({self.id}) {status} -> {self.dir}", file=sys.stderr)

    def _write_final_now(self, status: str, exit_code: int, traceback_text: str | None,
                         signal_name: str | None) -> None:
        if not self._lock.acquire(timeout=1.0):
            return
        try:
            if self._inactive is None:
                self._inactive = "finished"
                self._write_final_records(status, exit_code, traceback_text, signal_name)
        finally:
            self._lock.release()

    def _write_final_records(self, status: str, exit_code: int, traceback_text: str | None,
                             signal_name: str | None) -> None:
        writer = self._writer
        if writer is None:
            return
        final: dict[str, Any] = {"status": status, "exit_code": exit_code}
        if traceback_text:
            final["traceback"] = traceback_text
        if signal_name:
            final["signal"] = signal_name
        if self._preempting:
            final["preempted"] = True
        failed_before = writer.failed
        if failed_before:
            writer.append({"seq": writer.seq + 1, "t": _time(), "type": "write_failures", "count": failed_before})
        writer.append({"seq": writer.seq + 1, "t": _time(), "type": "status", **final})
        writer.close()
        self._meta.update(final, ended=_time(), records=writer.seq, records_not_written=writer.failed)
        self._write_meta()
        if self._lock_file is not None:
            self._lock_file.release()

    def _write_meta(self) -> None:
        if self._dir is None:
            return
        try:
            self._dir.write_meta(self._meta)
        except OSError as exc:
            if "meta" not in self._warned:
                self._warned.add("meta")
                _warn(f"tracker: could not update {self._dir.meta}: {exc}; the log stays the source of truth.")

    def _run_finish_callbacks(self) -> None:
        for callback in self._finish_callbacks:
            callback(self)
        self._finish_callbacks.clear()

    def detach(self) -> None:
        """Hand the run over to another process: stop writing, leave it ``running``, release the lock.

        The next owner continues it with ``tracker_core.init(id=run.id, project=..., resume="must")``;
        sequence numbers continue where this process stopped.
        """
        if self._inactive is not None or not self._closing.acquire(blocking=False):
            return
        self._stop_background(time.monotonic() + self.settings.finish_timeout)
        with self._lock:
            self._inactive = "detached"
            writer = self._writer
            if writer is not None:
                writer.append({"seq": writer.seq + 1, "t": _time(), "type": "detach", "pid": os.getpid()})
                writer.close()
            if self._lock_file is not None:
                self._lock_file.release()
        self._services.stop_after_final(time.monotonic() + self.settings.finish_timeout)
        _lifecycle.unregister(self)
        self._run_finish_callbacks()
        if _deferred_signals:
            self._handle_deferred_signal()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.finish()
            return
        text = _lifecycle.format_exception(kind, value, tb)  # type: ignore[arg-type]
        if issubclass(kind, KeyboardInterrupt):
            self.finish_from_hook("killed", 128 + signal.SIGINT, text, "SIGINT")
        else:
            self.finish_from_hook("failed", 1, text)

    # ----- background work ---------------------------------------------------------------------

    def _start_background(self) -> None:
        """Start the registered background services (tracker_core._services); register exit and fork hooks."""
        assert self._dir is not None and self._writer is not None
        writer = self._writer
        context = ServiceContext(
            run_id=self.id, project=self.project, entity=self.entity, run_dir=self._dir.path, log_path=writer.path,
            settings=self.settings, append=lambda fields: self._append(fields, background=True) > 0,
            meta=lambda: dict(self._meta), sync=writer.sync)
        self._services.start(context)
        _lifecycle.register(self)
        _live_runs.append(self)
        self._finish_callbacks.append(lambda run: _live_runs.remove(run) if run in _live_runs else None)

    def _stop_background(self, deadline: float) -> None:
        """Remove watch hooks, wait (bounded) for pending alerts, stop the services that end before the final record."""
        self.unwatch()
        self._alerts.flush(max(0.0, deadline - time.monotonic() - 1.0))
        self._services.stop_before_final(deadline)

    def _forked(self) -> None:
        """In a forked child: never write into the parent's run."""
        self._inactive = "forked"
        self._lock = threading.Lock()
        self._closing = threading.Lock()
        self._closing.acquire()
        if self._writer is not None:
            self._writer.abandon()
        if self._lock_file is not None:
            self._lock_file.forget_in_child()
        self._services.forked()


def _after_fork_in_child() -> None:
    for run in list(_live_runs):
        run._forked()
    _live_runs.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)

"""``Run``: the user's handle on one training run. Thin: each call is handed to the collaborator
that owns its concern:

- ``_rows.RowPath``: ``log()``, ``define_metric()``, rewinds, the step;
- ``_records.RunRecords``: the log writer, records other than rows, config/summary, run.json;
- ``_ending.RunEnding``: ``finish()``, exit hooks and signals, ``detach()``, forks, background services;
- ``_run_alerts.AlertGlue``, ``_run_watch.WatchGlue``, ``_run_artifacts.ArtifactGlue``: alerts, watch, artifacts;
- ``_notices.Notices``: what the run warns about, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tracker_core.alerts._level import AlertLevel

if TYPE_CHECKING:
    from tracker_core._artifact_handle import StoredArtifact
    from tracker_core._encoding import Problem
    from tracker_core._settings import Settings
    from tracker_core.artifacts import Artifact
    from tracker_core.store._lock import WriterLock
    from tracker_core.store._log import LogWriter
    from tracker_core.store._replay import RunState
    from tracker_core.store._run_dir import RunDir

__all__ = ["Run"]


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
        # The collaborators load with the first run, so that `import tracker_core` stays cheap (DESIGN principle 7).
        from tracker_core import _background  # noqa: F401 - registers the built-in background services
        from tracker_core._config import Config
        from tracker_core._ending import RunEnding
        from tracker_core._notices import Notices
        from tracker_core._records import RunRecords
        from tracker_core._rows import RowPath
        from tracker_core._run_alerts import AlertGlue
        from tracker_core._run_artifacts import ArtifactGlue
        from tracker_core._run_watch import WatchGlue
        from tracker_core._summary import Summary

        self.settings = settings
        self.id = run_id
        notices = self._notices = Notices(run_id, settings.strict)
        records = self._records = RunRecords(run_id, settings.project, notices, inactive=inactive, run_dir=run_dir,
                                             writer=writer, lock_file=lock, meta=meta, state=state)
        rows = self._rows = RowPath(records, notices, step=records.state.next_step,
                                    raise_on_backward=settings.effective_step_policy == "raise")
        alerts = self._alerts = AlertGlue(records, notices, rows)
        rows.on_stalls = alerts.stalls
        watch = self._watch = WatchGlue(records, rows, alerts)
        self._artifacts = ArtifactGlue(records, notices, settings)
        self._ending = RunEnding(self, settings, records, rows, watch, alerts)
        self.log = rows.log  # type: ignore[method-assign]  # the hand-off costs no call: ~0.1 us of a 4 us log()
        self.config = Config(config, on_change=records.record_config, on_problems=notices.report_problems)
        self.summary = Summary(records.live_summary, records.summary_set, records.summary_unset)

    # ----- identity -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._records.name

    @property
    def project(self) -> str:
        return self.settings.project

    @property
    def entity(self) -> str | None:
        return self._records.meta.get("entity")

    @property
    def group(self) -> str | None:
        return self._records.meta.get("group")

    @property
    def job_type(self) -> str | None:
        return self._records.meta.get("job_type")

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self._records.meta.get("tags") or ())

    @property
    def notes(self) -> str | None:
        return self._records.meta.get("notes")

    @property
    def path(self) -> str:
        """``project/run_id``, as accepted by ``Api().run()``."""
        return f"{self.project}/{self.id}"

    @property
    def dir(self) -> str | None:
        """The run's folder, or None for an inactive run that has none."""
        run_dir = self._records.run_dir
        return run_dir.path if run_dir else None

    @property
    def step(self) -> int:
        """The step the next ``log()`` without ``step=`` goes to."""
        return self._rows.step

    @property
    def disabled(self) -> bool:
        """True if this run writes nothing (disabled mode or a non-zero rank)."""
        return self._records.inactive in ("disabled", "rank")

    @property
    def owner_pid(self) -> int:
        """The process that writes this run (a forked child is not it)."""
        return self._ending.owner_pid

    def __repr__(self) -> str:
        state = self._records.inactive or "running"
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

        Each run's ``log`` is its row path's ``log`` itself (bound in ``__init__``); this method is what
        ``Run.log(run, ...)`` calls and what the documentation shows.
        """
        self._rows.log(data, step, commit)

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
        self._rows.define_metric(name, step_metric, summary, goal, hidden, step_sync, alert_after)

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
        self._watch.watch(model, log, log_freq, include, exclude)

    def unwatch(self, model: Any = None) -> None:
        """Remove the hooks of ``watch`` (for ``model``, or for every watched model)."""
        self._watch.unwatch(model)

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
        return self._artifacts.log_artifact(artifact, aliases, link)

    def use_artifact(self, ref: str) -> StoredArtifact:
        """An artifact version (``name``, ``name:latest``, ``name:v3``, ``name:<alias>``) as this run's input.

        The use is recorded (lineage) when this run writes; every rank may call it to download.

        Raises:
            ArtifactError: no such artifact, version or alias (the message lists what exists).
        """
        return self._artifacts.use_artifact(ref)

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
        self._alerts.alert(title, text, level, wait_duration)

    def mark_preempting(self) -> None:
        """Say that the job is about to be preempted (requeued): its final state will note it."""
        self._ending.mark_preempting()

    # ----- the end of the run (tracker_core._ending) -----------------------------------------------

    def note_signal(self, signum: int) -> bool:
        """Record that a signal arrived; False if the run's lock is busy (the caller retries later)."""
        return self._ending.note_signal(signum)

    def ended_by_signal(self) -> int | None:
        """The signal that ended the run: one arrived and nothing was logged after it."""
        return self._ending.ended_by_signal()

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """End the run: ``finished`` (exit code 0 or None) or ``failed`` (any other code).

        Idempotent, bounded by the ``finish_timeout`` setting, and safe from any thread.
        Side effects: writes the final status record, fsyncs the log, replaces run.json
        and releases the run's writer lock.

        Raises:
            SettingsError: ``exit_code`` is not an int.
        """
        self._ending.finish(exit_code, quiet)

    def finish_from_hook(self, status: str, exit_code: int, traceback_text: str | None = None,
                         signal_name: str | None = None) -> None:
        """Used by the process hooks; never raises.

        If a ``finish()`` is already under way (a signal or an exception landed while it waited
        for background threads), the hook's state is written now: the process may not get back
        to that ``finish()``.
        """
        self._ending.finish_from_hook(status, exit_code, traceback_text, signal_name)

    def detach(self) -> None:
        """Hand the run over to another process: stop writing, leave it ``running``, release the lock.

        The next owner continues it with ``tracker_core.init(id=run.id, project=..., resume="must")``;
        sequence numbers continue where this process stopped.
        """
        self._ending.detach()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._ending.exit_block(kind, value, tb)

    # ----- for tracker_core._open, tracker_core._fluent and the tests ------------------------------

    @property
    def _finish_callbacks(self) -> list[Callable[[Run], None]]:
        """Called with the run once it has ended or was handed over."""
        return self._ending.callbacks

    @property
    def _watchers(self) -> list[tuple[Any, Any]]:
        return self._watch.watchers

    @property
    def _watch_stats(self) -> dict[str, Any] | None:
        return self._rows.pending

    def _append(self, fields: dict[str, Any], background: bool = False) -> int:
        return self._records.append(fields, background)

    def _report_problems(self, problems: list[Problem]) -> None:
        self._notices.report_problems(problems)

    def _rewind(self, step: int) -> None:
        self._rows.rewind(step)

    def _write_meta(self) -> None:
        self._records.write_meta()

    def _start_background(self) -> None:
        self._ending.start()

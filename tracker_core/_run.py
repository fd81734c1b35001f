"""``Run``: the user's handle on one training run. Thin: each call is handed to the collaborator
that owns its concern:

- ``_rows.RowPath``: ``log()``, ``define_metric()``, rewinds, the step;
- ``_records.RunRecords``: the log writer, records other than rows, config/summary, run.json;
- ``_ending.RunEnding``: ``finish()``, exit hooks and signals, ``detach()``, forks, background services;
- ``_run_alerts.AlertGlue``, ``_run_watch.WatchGlue``, ``_run_artifacts.ArtifactGlue``: alerts, watch, artifacts;
- ``_run_files``: ``save``, ``restore``, ``log_code`` (files in and out of the run's ``files/``);
- ``_notices.Notices``: what the run warns about, once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from tracker_core.alerts._level import AlertLevel

if TYPE_CHECKING:
    from tracker_core._encoding import Problem
    from tracker_core._settings import Settings
    from tracker_core.api import StoredArtifact
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
        from tracker_core import _background, _saved_files  # noqa: F401 - they register the built-in services
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
    def offline(self) -> bool:
        """True when the run is written to the local store only (W&B's name; not for a disabled run)."""
        return not self.disabled and self.settings.mode == "offline"

    @property
    def url(self) -> str | None:
        """The run's page in the team server's web UI (``<server>/<entity>/<project>/runs/<id>``); None for
        a run written only to the local store (as W&B's offline runs). ``tracker ui`` shows local runs."""
        from tracker_core._run_url import run_url

        return run_url(self)

    def get_url(self) -> str | None:
        """W&B's ``get_url()``: the same as ``url``."""
        return self.url

    def get_project_url(self) -> str | None:
        """W&B's ``get_project_url()``: the project's runs in the team server's web UI, or None offline."""
        from tracker_core._run_url import project_url

        return project_url(self)

    @property
    def resumed(self) -> bool:
        """True if this ``init()`` continued a run that already existed."""
        return self._records.meta.get("resumed_at") is not None

    @property
    def start_time(self) -> float:
        """Unix time (seconds) when the run was first started (a resumed run keeps its first start)."""
        started = self._records.meta.get("started")
        return float(started) if started is not None else 0.0

    @property
    def should_stop(self) -> bool:
        """True once a sweep (its pruner, or ``tracker sweep cancel``) asked this run to stop; the next
        ``log()`` raises ``RunStopped`` and the run ends ``stopped``."""
        return self._rows.stop_reason is not None

    def _request_stop(self, reason: str) -> None:
        """Ask the run to stop (the sweep agent calls this; any thread)."""
        if self._rows.stop_reason is None:
            self._rows.stop_reason = reason

    def _end_stopped(self) -> None:
        """End the run ``stopped`` (the agent, when ``RunStopped`` left the trial's function)."""
        self._ending.finish_from_hook("stopped", 0)

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

        Raises:
            RunStopped: a sweep asked the run to stop (``should_stop``); in every mode, and it is a
                ``BaseException``, so ``except Exception`` lets it through.

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

    def watch(self, models: Any, criterion: Any = None, log: str | None = "gradients", log_freq: int = 1000,
              idx: int | None = None, log_graph: bool = False, *, include: Any = None, exclude: Any = None) -> None:
        """Record gradient and/or parameter statistics of torch models every ``log_freq`` backward passes.

        W&B's arguments in W&B's order: ``models`` is a module or a list/tuple of them (the second one's
        statistics under W&B's ``graph_1`` prefix, and so on; ``idx`` sets the first number);
        ``log=None`` watches nothing; ``criterion`` is accepted and unused; ``log_graph=True`` warns
        once (no graph is recorded). Histograms (64 bins), per-tensor L2 norms and the global gradient
        norm join the user's next ``log()`` row. Non-finite gradients are counted, named and recorded
        as an alert. ``include`` / ``exclude`` (keyword-only): glob patterns or a callable over
        parameter names. Nothing is computed on a run that writes nothing (other ranks) or on steps
        that are not logged.

        Raises:
            SettingsError: a bad argument, or a sharded model that cannot be watched correctly.
        """
        self._watch.watch(models, log, log_freq, include, exclude, log_graph=log_graph, idx=idx)

    def unwatch(self, model: Any = None) -> None:
        """Remove the hooks of ``watch`` (for ``model``, or for every watched model)."""
        self._watch.unwatch(model)

    def log_artifact(self, artifact_or_path: Artifact | str | os.PathLike[str], name: str | None = None,
                     type: str | None = None, aliases: Sequence[str] | None = None,  # noqa: A002 - W&B's name
                     tags: Sequence[str] | None = None, *, link: str | None = None) -> StoredArtifact | None:
        """Commit the artifact's files as its next version (none if unchanged since the latest) and
        record that this run produced it. ``latest`` moves automatically; ``aliases`` move to it.

        As in W&B, ``artifact_or_path`` may be a file or folder: it becomes an artifact named ``name``
        (default ``run-<run id>-<basename>``) of ``type`` (default ``unspecified``). ``tags`` are accepted
        and not stored. Side effects: files are stored once by content under ``<root>/artifacts``;
        ``link`` ("auto" or "hardlink", default ``TRACKER_ARTIFACT_LINK``) says how they enter the store:
        "hardlink" shares the file's inode with the store and makes it read-only (safe for files only ever
        replaced by rename). Returns None (and stores nothing) on a run that writes nothing.

        Raises:
            ArtifactError: a bad name, path, alias or link mode, or a file that cannot be read.
        """
        return self._artifacts.log_artifact(artifact_or_path, name, type, aliases, link)

    def use_artifact(self, artifact_or_name: str | StoredArtifact, type: str | None = None,  # noqa: A002
                     aliases: Sequence[str] | None = None, use_as: str | None = None) -> StoredArtifact:
        """An artifact version (``name``, ``name:latest``, ``name:v3``, ``name:<alias>``, or W&B's
        ``entity/project/name:...``) as this run's input. On an online run, a version the local store
        lacks, or one named with ``entity/project/``, comes from the team server, every file verified;
        elsewhere the prefix is ignored (one local store).

        The use is recorded (lineage) when this run writes; every rank may call it to download.
        ``aliases`` and ``use_as`` are accepted and ignored, as ``use_as`` is in W&B.

        Raises:
            ArtifactError: no such artifact, version or alias (the message lists what exists), not of ``type``,
                or a file that arrived corrupted from the server (nothing of it is kept).
            ServerError: the team server could not be asked, or a download failed.
        """
        return self._artifacts.use_artifact(artifact_or_name, type)

    def log_model(self, path: str | os.PathLike[str], name: str | None = None,
                  aliases: Sequence[str] | None = None) -> None:
        """Log the file or folder at ``path`` as a ``model`` artifact (W&B's ``log_model``; name default
        ``run-<run id>-<basename>``).

        Raises:
            ArtifactError: a bad name or alias, or a path that is no file or folder.
        """
        self._artifacts.log_artifact(path, name, "model", aliases, None)

    def use_model(self, name: str) -> str:
        """Download the model artifact ``name`` (``name:v1``, ``name:<alias>``); returns the path of its
        single file, or of its folder.

        Raises:
            ArtifactError: no such artifact, or its type does not contain "model".
        """
        return self._artifacts.use_model(name)

    def link_model(self, path: str | os.PathLike[str], registered_model_name: str, name: str | None = None,
                   aliases: Sequence[str] | None = None) -> StoredArtifact | None:
        """Log ``path`` as a model artifact and link it to the registered model ``registered_model_name``:
        here, that is the next version of an artifact of that name (same files, same digest) with
        ``aliases`` (see the README, "Switching from W&B"). Returns the linked version (None on a run
        that writes nothing).

        Raises:
            ArtifactError: a registered model name with '/', a bad alias, or a path that is no file or folder.
        """
        return self._link(path, registered_model_name, name, aliases, "model")

    def link_artifact(self, artifact: Artifact | StoredArtifact, target_path: str,
                      aliases: Sequence[str] | None = None) -> StoredArtifact | None:
        """Link an artifact to a collection: its files become the next version of the artifact named by
        the last part of ``target_path`` (``wandb-registry-model/classifier`` -> ``classifier``).

        Raises:
            ArtifactError: a bad collection name or alias, or an artifact whose files are gone.
        """
        collection = target_path.rstrip("/").rsplit("/", 1)[-1] if isinstance(target_path, str) else target_path
        from tracker_core.api import StoredArtifact

        if isinstance(artifact, StoredArtifact):  # a version in the store already: link it as it is
            files = self._artifacts.build(artifact.download(), artifact.name, artifact.type)
            return self._artifacts.link(artifact, files, collection, aliases)
        logged = self.log_artifact(artifact)
        return self._artifacts.link(logged, artifact, collection, aliases) if logged else None

    def _link(self, path: str | os.PathLike[str], collection: str, name: str | None, aliases: Sequence[str] | None,
              type: str) -> StoredArtifact | None:  # noqa: A002
        artifact = self._artifacts.build(path, name, type)
        logged = self._artifacts.log_artifact(artifact, None, None, None, None)
        return self._artifacts.link(logged, artifact, collection, aliases) if logged else None

    # ----- files (tracker_core._run_files) ------------------------------------------------------

    def save(self, glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None = None,
             policy: str = "live", glob: bool = True) -> list[str]:
        """Copy the files matching ``glob_str`` into the run's ``files/`` folder, as W&B's ``save``.

        The glob is expanded now. Each file keeps its path below ``base_path`` (default: the current folder
        for a relative glob, one folder level for an absolute one, the run's folder for a path inside it).
        ``policy``: ``"now"`` copies once; ``"live"`` (default) copies now and again whenever the file
        changes, until the run ends; ``"end"`` copies when the run ends. ``glob=False`` takes the path
        literally. Returns the paths of the copies in ``files/`` (empty on a run that writes nothing).
        A file that cannot be copied is warned about once; the run goes on.

        Raises:
            SettingsError: an unknown policy, or a glob outside ``base_path``.
        """
        from tracker_core import _run_files

        return _run_files.save(self._records, self._notices, glob_str, base_path, policy, glob)

    def restore(self, name: str, run_path: str | None = None, replace: bool = False,
                root: str | None = None) -> IO[str] | None:
        """A file of a run's ``files/`` (this run's, or ``run_path``'s: ``project/run_id``, W&B's
        ``entity/project/run_id`` too) copied to ``root`` (default this run's ``files/``) and opened for
        reading; None if the run has no such file. An existing copy is opened unless ``replace``.

        Raises:
            RunNotFoundError: no run ``run_path`` in the store.
            SettingsError: a name that leaves the run's folder.
        """
        from tracker_core import _run_files

        return _run_files.restore(name, run_path, replace, root, self)

    def log_code(self, root: str | None = ".", name: str | None = None,
                 include_fn: Callable[..., bool] | None = None,
                 exclude_fn: Callable[..., bool] | None = None) -> StoredArtifact | None:
        """Log the code under ``root`` as an artifact of type ``code`` (W&B's ``log_code``).

        By default the ``.py`` files, ``requirements.txt`` and ``Dockerfile*`` below ``root``, without
        ``wandb/`` folders and the store; ``include_fn`` / ``exclude_fn`` take ``(path)`` or ``(path, root)``.
        The name defaults to ``source-<project>-<main script's path>``. Returns the version, or None
        (with a warning) when nothing matched or the run writes nothing.

        Raises:
            ArtifactError: a bad ``name``.
        """
        from tracker_core import _run_files

        return _run_files.log_code(self, root, name, include_fn, exclude_fn)

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

    def note_signal(self, signum: int, wait: float = 0.05) -> bool:
        """Record that a signal arrived; False if the run's lock stayed busy for ``wait`` seconds."""
        return self._ending.note_signal(signum, wait)

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

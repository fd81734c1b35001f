"""Reading runs back from the local store. The log is the source of truth; states are inferred.

A run whose log has no final status is ``running`` only while its writer lives:
on the same host, its pid must exist with the same start time (pids are reused);
elsewhere, its last record or heartbeat must be recent. Otherwise it is ``crashed``.
Listing goes through a per-project index rebuilt from the logs when stale.
"""

from __future__ import annotations

import datetime
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tracker_core._api_sweep import StoredSweep
from tracker_core._encoding import MediaRef, decode_tree
from tracker_core._errors import RunLockedError, RunNotFoundError, SettingsError, TrackerError
from tracker_core._paginated import Runs
from tracker_core._process import current_identity, writer_state
from tracker_core._query import compile_filters, sort_runs
from tracker_core._readback import RunFile, check_count, check_keys, list_files, sample_evenly, scan_rows
from tracker_core.store._history import read_history
from tracker_core.store._index import digest, project_digests, replay, run_digest
from tracker_core.store._lock import WriterLock
from tracker_core.store._log import LogWriter, parse_records, read_log, repair_torn_tail
from tracker_core.store._replay import RunState
from tracker_core.store._run_dir import RunDir

if TYPE_CHECKING:
    from tracker_core._best import Best
    from tracker_core._step import MetricDefinition
    from tracker_core.alerts import StoredAlert
    from tracker_core.artifacts import ArtifactStore, ArtifactVersion
    from tracker_core.artifacts._entries import ArtifactEntry

__all__ = ["Api", "Runs", "StoredArtifact", "StoredRun", "StoredSweep"]

_EDITABLE = ("name", "notes", "tags", "group", "job_type")


class StoredRun:
    """A run as recorded in the store. Listing data comes from the index; history and
    provenance are read from the log when first asked for."""

    def __init__(self, run_dir: RunDir, digest: Mapping[str, Any]) -> None:
        self._dir = run_dir
        self._state: RunState | None = None
        self._load(digest)

    def _load(self, digest: Mapping[str, Any]) -> None:
        meta = digest["meta"]
        self._meta = meta
        self.id: str = self._dir.run_id
        self.project: str = self._dir.project
        self.name: str = meta.get("name") or self.id
        self.tags: list[str] = list(meta.get("tags") or [])
        self.group: str | None = meta.get("group")
        self.job_type: str | None = meta.get("job_type")
        self.notes: str | None = meta.get("notes")
        self.entity: str | None = meta.get("entity")
        self.config: dict[str, Any] = decode_tree(digest["config"])  # type: ignore[assignment]
        self.summary: dict[str, Any] = decode_tree(digest["summary"])  # type: ignore[assignment]
        self._summary_wandb_encoded = digest["summary_wandb"]
        self._summary_wandb: dict[str, Any] | None = None
        self._rebase(self.summary)
        self.extremes: dict[str, list[Any]] = decode_tree(digest.get("extremes") or {})  # type: ignore[assignment]
        self.exit_code: int | None = digest["exit_code"]
        self.traceback: str | None = digest["traceback"]
        self.signal: str | None = digest["signal"]
        self.preempted: bool = digest["preempted"]
        self.last_seq: int = digest["last_seq"]
        self.seq_gaps: int = digest["seq_gaps"]
        self.records_not_written: int = digest["writes_failed"]
        self.bad_lines: int = digest["bad_lines"]  # undecodable lines the reader skipped
        self.torn_tail: bool = digest["torn_tail"]  # an incomplete last line (the writer died mid-record)
        started = meta.get("started") or digest["first_t"]
        self.created_at: datetime.datetime | None = (
            datetime.datetime.fromtimestamp(started, tz=datetime.UTC) if started else None)
        self._last_t: float | None = digest["last_t"]
        self._ended_t: float | None = digest["ended_t"]
        self.status: str = self._infer_status(digest["status"])

    def _rebase(self, summary: dict[str, Any]) -> None:
        for value in summary.values():
            if isinstance(value, MediaRef):
                value.rebase(self._dir.path)

    # ----- state --------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """W&B's name for ``status``: running, finished, failed, killed, stopped (a sweep stopped it) or crashed."""
        return self.status

    @property
    def display_name(self) -> str:
        """W&B's name for ``name``."""
        return self.name

    @property
    def summary_metrics(self) -> dict[str, Any]:
        """The summary as W&B shapes it (``summary`` keeps this project's shape):

        - a metric with ``define_metric(summary=...)`` (or a ``goal``) reads as a dict of option -> value
          under W&B's names, even for one option: ``{"min": 0.1}``, ``{"min": 0.1, "max": 0.9}``,
          ``{"best": 0.1}`` (where ``summary`` gives ``0.1`` for a single option and names 'best' by
          its goal);
        - W&B's ``_step``, ``_timestamp`` and ``_runtime`` are added;
        - everything else is as in ``summary``.

        ``Api().runs(filters=..., order=...)`` reads ``summary_metrics.<key>`` from here.
        """
        if self._summary_wandb is None:
            self._summary_wandb = decode_tree(self._summary_wandb_encoded)  # type: ignore[assignment]
            self._rebase(self._summary_wandb)  # type: ignore[arg-type]
        return self._summary_wandb  # type: ignore[return-value]

    @property
    def dir(self) -> str:
        return self._dir.path

    @property
    def path(self) -> str:
        return f"{self.project}/{self.id}"

    @property
    def duration(self) -> float | None:
        """Seconds from start to the final record (to the last record for crashed or live runs)."""
        end = self._ended_t or self._last_t
        started = self._meta.get("started")
        return max(0.0, end - started) if end and started else None

    @property
    def provenance(self) -> dict[str, Any] | None:
        return self._full_state().provenance

    def _full_state(self) -> RunState:
        if self._state is None:
            self._state, _ = replay(self._dir)
        return self._state

    def _final_state_from_snapshot(self) -> dict[str, Any] | None:
        """run.json's final state, when the log lacks one (a full disk) and the same writer wrote both."""
        snapshot = self._dir.read_meta()
        if not snapshot or snapshot.get("status") in (None, "running"):
            return None
        same = all(snapshot.get(k) == self._meta.get(k) for k in ("host", "boot_id", "pid", "start_ticks"))
        return snapshot if same else None

    def _infer_status(self, status: str | None) -> str:
        if status not in (None, "running"):
            return status
        if status == "running" and self._meta.get("imported"):
            return "running"  # a run imported as running: the source's word, there is no writer here to check
        snapshot = self._final_state_from_snapshot()
        if snapshot is not None:
            self.exit_code = snapshot.get("exit_code")
            self.records_not_written = int(snapshot.get("records_not_written") or 0)
            return str(snapshot["status"])
        interval = float(self._meta.get("heartbeat_interval") or 30.0)
        activity = self._last_t or 0.0  # the writer's own records (heartbeats included), not later edits
        return "running" if writer_state(self._meta, activity, interval) == "alive" else "crashed"

    # ----- history ------------------------------------------------------------------------------

    def history(self, samples: int | None = None, keys: Sequence[str] | None = None, x_axis: str = "_step",
                pandas: bool = False, stream: str = "default", *, x: str | None = None) -> Any:
        """Every row (never sampled unless ``samples`` is given), merged by step, in order, each with
        ``_step`` and ``_timestamp``. W&B's order of arguments; ``x`` is another name for ``x_axis``.

        ``samples=N``: N rows evenly spaced over the result, the first and the last included (every row
        when there are no more; W&B samples 500 by default, this never does). ``keys`` keeps only rows
        holding at least one of them, reduced to them; ``x_axis`` names the x-axis column (rows without
        it are dropped, the rest sorted by it); ``pandas=True`` returns a DataFrame (W&B's default;
        here a list of dicts unless asked). ``stream="system"``: the system metrics samples instead.

        Raises:
            SettingsError: a bad ``samples``, ``keys`` or ``stream``.
            TrackerError: pandas was asked for and is not installed.
        """
        count = check_count(samples, "samples")
        wanted_keys = check_keys(keys, "history()")
        axis = x if x is not None else x_axis
        if stream not in ("default", "system"):
            raise SettingsError("stream", f"{stream!r} is not a stream", "use 'default' (metrics) or 'system'")
        if stream == "system":
            rows = self.system_metrics()
        elif wanted_keys is None:
            rows = read_history(self._dir.events)
        else:
            wanted = frozenset(wanted_keys)
            rows = read_history(self._dir.events, wanted | {axis})
            if axis not in wanted:  # rows holding only the x-axis value do not count
                rows = [row for row in rows if not wanted.isdisjoint(row)]
        if axis != "_step":  # rows whose x is a real number (not a bool, not NaN), sorted by it
            rows = sorted((row for row in rows if type(row.get(axis)) in (int, float) and row[axis] == row[axis]),
                          key=lambda row: row[axis])
        if count is not None:
            rows = sample_evenly(rows, count)
        if not pandas:
            return rows
        try:
            import pandas as pd  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            raise TrackerError("history(pandas=True) needs pandas\nHint: pip install pandas") from None
        return pd.DataFrame(rows)

    def scan_history(self, keys: Sequence[str] | None = None, page_size: int = 1000, min_step: int | None = None,
                     max_step: int | None = None) -> Iterator[dict[str, Any]]:
        """Every row with ``min_step <= _step < max_step``, in step order, as W&B's ``scan_history``.

        With ``keys``, only the rows holding *every* key, each reduced to ``_step`` and those keys
        (``history(keys=...)`` keeps rows holding any of them). ``page_size`` is accepted for W&B; the
        local store is read in one pass.

        Raises:
            SettingsError: a bad argument (raised at the call, before iterating).
        """
        wanted_keys = check_keys(keys, "scan_history()")
        check_count(page_size, "page_size", allow_none=False)
        for name, value in (("min_step", min_step), ("max_step", max_step)):
            if value is not None and type(value) is not int:
                raise SettingsError(name, f"{value!r} is not an int", f"pass e.g. {name}=100")
        keep = None if wanted_keys is None else frozenset(wanted_keys)
        return scan_rows(read_history(self._dir.events, keep), wanted_keys, min_step, max_step)

    def files(self, names: Sequence[str] | None = None, pattern: str | None = None, per_page: int = 50
              ) -> list[RunFile]:
        """The run's files, as W&B's ``run.files()``: those under its ``files/`` folder by their name there
        (``output.log``, files saved with the run) and its media as ``media/...``; each has ``name``,
        ``size`` and ``download(root=".", replace=False, exist_ok=False)``. ``names`` keeps only those;
        ``pattern`` is SQL ``LIKE`` as with W&B (``"%.png"``). ``per_page`` is accepted for W&B.

        Raises:
            SettingsError: both ``names`` and ``pattern``, or a bad type.
        """
        check_count(per_page, "per_page", allow_none=False)
        return list_files(self._dir.path, names, pattern)

    def file(self, name: str) -> RunFile:
        """One file of ``files()`` by name.

        Raises:
            TrackerError: the run has no such file (the message lists a few it has).
        """
        found = list_files(self._dir.path, [name])
        if found:
            return found[0]
        known = [file.name for file in list_files(self._dir.path)][:10]
        raise TrackerError(f"run {self.path} has no file {name!r}\nHint: its files: " + (", ".join(known) or "none"))

    # ----- edits --------------------------------------------------------------------------------

    def update(self, **changes: Any) -> None:
        """Edit name, notes, tags, group or job_type after the fact.

        Appends a ``meta`` record (history is never rewritten) and refreshes run.json.

        Raises:
            SettingsError: an unknown field or a wrong type.
            RunLockedError: a live process is writing the run.
        """
        for field, value in changes.items():
            if field not in _EDITABLE:
                raise SettingsError(field, "cannot be edited", "editable: " + ", ".join(_EDITABLE))
            if field == "tags":
                if not isinstance(value, (list, tuple)) or not all(isinstance(t, str) for t in value):
                    raise SettingsError("tags", f"{value!r} is not a list of strings", "pass tags=['a', 'b']")
                changes[field] = list(value)
            elif value is not None and not isinstance(value, str):
                raise SettingsError(field, f"{value!r} is not a string", f"pass {field}='...'")
        if not changes:
            return
        with _ExclusiveWriter(self._dir) as writer:
            writer.append({"seq": writer.seq + 1, "t": _now(), "type": "meta", "set": changes})
        snapshot = self._dir.read_meta() or {}
        snapshot.update(changes)
        self._dir.write_meta(snapshot)
        state, stats = replay(self._dir)
        self._state = state
        self._load(digest(state, stats))

    def delete(self) -> None:
        """Remove the run's folder.

        Raises:
            RunLockedError: a live process is writing the run.
        """
        lock = WriterLock(self._dir.lock)
        if not lock.try_acquire(f"pid {os.getpid()} deleting"):
            raise RunLockedError(self.id, lock.owner())
        try:
            shutil.rmtree(self._dir.path)
        finally:
            lock.release()

    def system_metrics(self) -> list[dict[str, Any]]:
        """The system metrics samples (``system/...`` keys), each with ``_timestamp``, in time order."""
        return list(self._full_state().system)

    def metric_definitions(self) -> list[MetricDefinition]:
        """The run's ``define_metric`` definitions (exact names first, then globs)."""
        return self._full_state().rules.definitions()

    def alerts(self) -> list[StoredAlert]:
        """The run's alerts in log order: title, text, level, step, time, and each one's delivery
        ``status`` (delivered, undelivered, suppressed, pending, not_sent) with its ``reason``."""
        from tracker_core.alerts._records import stored_alerts

        return stored_alerts(parse_records(read_log(self._dir.events)))

    def logged_artifacts(self) -> list[StoredArtifact]:
        """The artifact versions this run produced (those still in the store)."""
        return self._artifacts("logged")

    def used_artifacts(self) -> list[StoredArtifact]:
        """The artifact versions this run used as inputs (those still in the store)."""
        return self._artifacts("used")

    def _artifacts(self, direction: str) -> list[StoredArtifact]:
        from tracker_core.artifacts import ArtifactError, ArtifactStore

        store = ArtifactStore(self._dir.root)
        found = []
        for record in self._full_state().artifacts:
            if record.get("direction") != direction:
                continue
            try:
                version = store.resolve(f"{record['name']}:v{record['version']}")
            except ArtifactError:
                continue  # deleted since
            if version.digest == record.get("digest"):
                found.append(StoredArtifact(store, version, self._dir.root))
        return found

    def __repr__(self) -> str:
        return f"<StoredRun {self.path} name={self.name!r} {self.status}>"


def _now() -> float:
    import time

    return time.time()


class _ExclusiveWriter:
    """Take a run's writer lock, repair a torn tail, and yield a writer that continues its seq."""

    def __init__(self, run_dir: RunDir) -> None:
        self._dir = run_dir
        self._lock = WriterLock(run_dir.lock)
        self._writer: LogWriter | None = None

    def __enter__(self) -> LogWriter:
        identity = current_identity()
        if not self._lock.try_acquire(f"pid {identity['pid']} on {identity['host']} (editing)"):
            raise RunLockedError(self._dir.run_id, self._lock.owner())
        try:
            repair_torn_tail(self._dir.events)
            state, _ = replay(self._dir)
            self._writer = LogWriter(self._dir.events, state.last_seq)
        except BaseException:
            self._lock.release()
            raise
        return self._writer

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
        self._lock.release()


REMOTE_API: list[Callable[[], type[Api]]] = []
"""The class ``Api(server=...)`` makes, as a loader that ``tracker_core.sync`` registers: the server client
builds on this module, so this module never imports it."""


class Api:
    """Read access to a store root: ``dir`` argument, else ``TRACKER_DIR``, else ``./tracker_runs``.

    ``Api(server="http://host:8750")`` reads the team server instead, through the same interface
    (paths there are ``entity/project/run_id``); its key is ``api_key``, else ``TRACKER_API_KEY``,
    else the one ``tracker login`` stored for that server.
    """

    def __new__(cls, dir: str | os.PathLike[str] | None = None, server: str | None = None,  # noqa: A002
                api_key: str | None = None) -> Api:
        if server is not None and cls is Api:
            if not REMOTE_API:
                raise TrackerError("Api(server=...) needs the server client, tracker_core.sync",
                                   "import tracker_core (it loads it) rather than tracker_core.api alone")
            return super().__new__(REMOTE_API[0]())
        return super().__new__(cls)

    def __init__(self, dir: str | os.PathLike[str] | None = None, server: str | None = None,  # noqa: A002
                 api_key: str | None = None) -> None:
        from tracker_core._settings import resolve_settings

        settings = resolve_settings({"dir": dir})
        self.root = os.path.abspath(os.path.expanduser(settings.dir))
        self._artifact_link = settings.artifact_link

    def projects(self) -> list[str]:
        try:
            return sorted(p for p in os.listdir(self.root) if os.path.isdir(os.path.join(self.root, p))
                          and not p.startswith(".") and p != "artifacts")
        except FileNotFoundError:
            return []

    def runs(self, path: str | None = None, filters: Mapping[str, Any] | Sequence[str] | None = None,
             order: str | None = None, per_page: int = 50, include_sweeps: bool = True, lazy: bool = True
             ) -> Runs:
        """The runs of project ``path`` (all projects when None) that match ``filters``, sorted by ``order``,
        as W&B's paginated ``Runs`` (a lazy sequence, ``per_page`` runs a page; see ``tracker_core._paginated``).

        ``path`` is a project, or W&B's ``"entity/project"``: then runs recorded with another entity
        are left out (runs recorded without one are kept; the local store holds one team's runs).
        Without ``order``, oldest first. See ``tracker_core._query`` for the filter language
        (MongoDB-style dicts with this project's or W&B's field names, or expressions like
        ``"config.lr<1e-3"``). ``include_sweeps`` and ``lazy`` are accepted for W&B. The local store
        is read in one pass when the first page is asked for.

        Raises:
            SettingsError: an unknown field or operator in filters or order; ``per_page`` below 1.
        """
        entity, project = _entity_and_project(path)
        match = compile_filters(filters)
        found: list[StoredRun] = []
        read = False

        def fetch(offset: int, limit: int) -> tuple[list[StoredRun], int]:
            nonlocal read
            if not read:
                found.extend(self._matching(entity, project, match, order))
                read = True
            return found[offset:offset + limit], len(found)

        return Runs([fetch], per_page, path)

    def _matching(self, entity: str | None, project: str | None, match: Any, order: str | None) -> list[StoredRun]:
        runs = []
        for name in [project] if project else self.projects():
            for run_id, summary in project_digests(self.root, name).items():
                run = StoredRun(RunDir(self.root, name, run_id), summary)
                if (entity is None or run.entity in (None, entity)) and match(run):
                    runs.append(run)
        runs.sort(key=lambda run: (run.created_at.timestamp() if run.created_at else 0.0, run.id))
        return sort_runs(runs, order)

    def best(self, project: str | None, metric: str, goal: str = "min",
             filters: Mapping[str, Any] | Sequence[str] | None = None) -> Best | None:
        """The run with the best value of ``metric`` over its whole history (else its summary), or None.

        Raises:
            SettingsError: ``goal`` is not min or max; a bad filter.
        """
        from tracker_core._best import find_best

        if goal not in ("min", "max"):
            raise SettingsError("goal", f"{goal!r} is not 'min' or 'max'", "pass goal='min' or goal='max'")
        return find_best(list(self.runs(project, filters, per_page=1000)), metric, goal)

    def sweep(self, path: str) -> StoredSweep:
        """A sweep of the local store by ``id``, ``project/id`` or ``entity/project/id`` (W&B's path), with its
        trial runs (``.runs``) and ``.best_run()``; see ``StoredSweep``.

        Raises:
            SweepNotFoundError: no such sweep in the store (or it is another project's).
        """
        from tracker_core.sweeps._errors import SweepNotFoundError
        from tracker_core.sweeps._store import SweepStore

        parts = path.strip("/").split("/")
        sweep_id = parts[-1]
        if not os.path.isfile(os.path.join(self.root, ".sweeps", "sweeps.db")):
            raise SweepNotFoundError(path, self.root)
        store = SweepStore(self.root)
        try:
            record = store.get(sweep_id)
            trials, counts = store.trials(sweep_id), store.counts(sweep_id)
        finally:
            store.close()
        if len(parts) >= 2 and parts[-2] != record.project:
            raise SweepNotFoundError(path, f"project {parts[-2]} of {self.root}")

        def load_runs() -> list[StoredRun]:
            order = {trial.run_id: trial.number for trial in trials}
            found = self._matching(None, record.project, lambda run: run.id in order, None)
            return sorted(found, key=lambda run: order[run.id])

        return StoredSweep(record.id, record.entity, record.project, record.name, record.config, record.state,
                           record.created, counts, trials, load_runs)

    def artifact(self, ref: str) -> StoredArtifact:
        """An artifact version: ``name``, ``name:latest``, ``name:v3`` or ``name:<alias>``.

        Raises:
            ArtifactError: no such artifact, version or alias.
        """
        from tracker_core.artifacts import ArtifactStore

        store = ArtifactStore(self.root, link=self._artifact_link)
        return StoredArtifact(store, store.resolve(ref), self.root)

    def artifacts(self, name: str | None = None) -> list[StoredArtifact]:
        """Every version of every artifact (or of ``name``), by name then version."""
        from tracker_core.artifacts import ArtifactStore

        store = ArtifactStore(self.root, link=self._artifact_link)
        names = [name] if name else store.names()
        return [StoredArtifact(store, version, self.root) for n in names for version in store.versions(n)]

    def run(self, path: str) -> StoredRun:
        """A run by ``project/id``, or by id (or unique id prefix) alone when unambiguous; W&B's
        ``entity/project/id`` and ``entity/project/runs/id`` name the same run.

        Raises:
            RunNotFoundError: no such run, or several runs match.
        """
        parts = path.split("/")
        if len(parts) == 4 and parts[2] == "runs":
            del parts[2]
        if len(parts) == 3:
            del parts[0]  # the entity: metadata in the local store
        project, run_id = "/".join(parts[:-1]), parts[-1]
        projects = [project] if project else self.projects()
        found = [RunDir(self.root, p, run_id) for p in projects if RunDir(self.root, p, run_id).exists()]
        if not found and not project and run_id:
            found = [RunDir(self.root, p, name) for p in projects for name in _listdir(os.path.join(self.root, p))
                     if name.startswith(run_id) and RunDir(self.root, p, name).exists()]
        if len(found) == 1:
            found_digest = run_digest(found[0])
            if found_digest is not None:
                return StoredRun(found[0], found_digest)
        if not found:
            close = self._close_ids(run_id)
            raise RunNotFoundError(f"no run {path!r} in {self.root}", f"did you mean {', '.join(close)}?" if close
                                   else "list runs with `tracker runs` or Api().runs(project)")
        raise RunNotFoundError(f"run id {path!r} is ambiguous in {self.root}", "it matches "
                               + ", ".join(f"{d.project}/{d.run_id}" for d in found) + "; pass project/id")

    def _close_ids(self, run_id: str) -> list[str]:
        import difflib

        known = [f"{p}/{name}" for p in self.projects() for name in _listdir(os.path.join(self.root, p))
                 if not name.startswith(".")]
        by_id = {k.rsplit("/", 1)[1]: k for k in known}
        return [by_id[i] for i in difflib.get_close_matches(run_id, list(by_id), n=3)]


def _entity_and_project(path: str | None) -> tuple[str | None, str | None]:
    """``"entity/project"`` -> (entity, project); a project alone -> (None, project)."""
    if not path:
        return None, None
    entity, _, project = path.rpartition("/")
    return entity or None, project


def _listdir(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []


class StoredArtifact:
    """A committed artifact version: its identity (``name:vN`` on top of a digest), files and lineage."""

    def __init__(self, store: ArtifactStore, version: ArtifactVersion, root: str) -> None:
        self._store = store
        self._version = version
        self._root = root
        self.name = version.name
        self.type = version.type
        self.version = version.version
        self.digest = version.digest
        self.aliases = version.aliases
        self.description = version.description
        self.metadata = version.metadata
        self.size = version.size
        self.created_at = version.created_at

    @property
    def ref(self) -> str:
        """``name:vN``."""
        return self._version.ref

    def files(self) -> list[dict[str, Any]]:
        """The manifest: path inside the artifact, sha256 and size of each file."""
        return self._store.files(self._version)

    def download(self, root: str | os.PathLike[str] | None = None, allow_missing_references: bool = False) -> str:
        """Materialise the files (default under the store) with every digest verified; returns the folder.

        Raises:
            tracker_core.artifacts.ArtifactError: a file is missing or corrupted in the store, or a
                reference cannot be fetched (see ``ArtifactStore.download``).
        """
        return self._store.download(self._version, root, allow_missing_references=allow_missing_references)

    def get_entry(self, name: str) -> ArtifactEntry:
        """The entry ``name`` (a medium's name may omit its ``.table.json``-style suffix), with ``download()``.

        Raises:
            tracker_core.artifacts.ArtifactError: no such entry (it is a KeyError too, as in W&B).
        """
        from tracker_core.artifacts._entries import get_entry

        return get_entry(self._store, self._version, name)

    def get(self, name: str) -> Any:
        """The medium added as ``name`` with ``Artifact.add``: a Table (media cells as StoredMedia) or a
        StoredMedia, which log again as they were; None when ``name`` is no medium."""
        from tracker_core.artifacts._entries import get_medium

        return get_medium(self._store, self._version, name)

    def wait(self, timeout: float | None = None) -> StoredArtifact:
        """This version (it is committed already; W&B's ``wait`` returns once logging is done)."""
        return self

    def logged_by(self) -> StoredRun | None:
        """The run that created this version, if it is still in the store."""
        producer, _ = self._store.producers_and_consumers(self.digest)
        runs = _runs(self._root, [producer] if producer else [])
        return runs[0] if runs else None

    def used_by(self) -> list[StoredRun]:
        """The runs that used this version (any name with the same digest), oldest first."""
        _, consumers = self._store.producers_and_consumers(self.digest)
        return _runs(self._root, consumers)

    def __repr__(self) -> str:
        return f"<StoredArtifact {self.ref} {self.type} {self.digest[:12]} aliases={list(self.aliases)}>"


def _runs(root: str, paths: list[str] | tuple[str, ...]) -> list[StoredRun]:
    api = Api(root)
    found = []
    for path in paths:
        try:
            found.append(api.run(path))
        except RunNotFoundError:
            continue  # the run was deleted; the edge stays in the registry
    return found

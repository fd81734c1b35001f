"""``tracker import wandb ENTITY/PROJECT --api``: the runs of a W&B project, read through wandb's public API.

Each run is read with ``wandb.Api``: its fields (name, config, summary, tags, notes, group, job type,
state, times), every history row with ``scan_history`` (never the sampled ``history``), its system
metrics (``history(stream="system")``) and its files (``output.log``, the media files its rows name,
the rest of ``files/``). It becomes the run with the same W&B run id in ``<root>/<project>/<id>/``, with
the same records the import of its folder writes (``ImportedRun``, written whole or not at all), so
importing it again, or once from its folder and once through the API, updates the one run.

The server and the key are wandb's own settings: ``base_url`` (else ``WANDB_BASE_URL`` or wandb's
settings files) and ``api_key`` (else ``WANDB_API_KEY`` or the netrc entry ``wandb login`` wrote). The key
is handed to wandb only: it is never written into the store.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from tracker_core._errors import TrackerError
from tracker_core.migrate._fidelity import Fidelity
from tracker_core.migrate._imported_run import ImportedRun, imported_source, write_imported_run
from tracker_core.migrate._wandb_media import WandbMedia, copy_run_files
from tracker_core.migrate._wandb_proto import WandbMissing
from tracker_core.store._run_dir import RunDir

__all__ = ["import_wandb_api"]

Progress = Callable[[str], None]
_SUMMARY_NAMES = ("min", "max", "mean", "best", "last", "none", "copy", "first")  # MetricSummary's fields 1..8
_STATES = {"finished": "finished", "failed": "failed", "crashed": "crashed", "killed": "killed",
           "running": "running", "pending": "running", "preempting": "running", "preempted": "crashed"}
_SYSTEM_SAMPLES = 1_000_000  # as many system samples as the server keeps


def _connect(base_url: str | None, api_key: str | None, timeout: int | None) -> tuple[Any, str]:
    """A ``wandb.Api`` and the URL of its server.

    Raises:
        WandbMissing: wandb is not installed.
        TrackerError: no key is configured, the server cannot be reached or refuses the key.
    """
    try:
        import wandb
        from wandb.errors import AuthenticationError, UsageError
    except ImportError:
        raise WandbMissing("tracker import wandb --api") from None
    overrides = {"base_url": base_url} if base_url else None
    try:
        api = wandb.Api(overrides=overrides, timeout=timeout, api_key=api_key or None)
    except AuthenticationError as error:  # a refused key, or a server that did not answer in time
        url = base_url or _wandb_url()
        unreachable = _unreachable(url, timeout or 10)
        if unreachable is not None:
            raise TrackerError(f"the W&B server {url} cannot be reached ({unreachable})\nHint: check --base-url "
                               "(or WANDB_BASE_URL) and that the server is up") from None
        raise TrackerError(f"the W&B server {url} refused the API key: {_one_line(error)}\nHint: set "
                           "WANDB_API_KEY or run `wandb login --host URL`") from None
    except UsageError as error:
        raise TrackerError(f"W&B: {_one_line(error)}\nHint: set WANDB_API_KEY or run `wandb login`") from None
    return api, str(api.settings["base_url"])


def _wandb_url() -> str:
    """The server wandb uses when none is given: ``WANDB_BASE_URL``, else its settings' (as ``wandb.Api`` reads it)."""
    try:
        from wandb import env
        from wandb.sdk import wandb_setup

        return str(env.get_base_url(wandb_setup.singleton().settings.base_url)).rstrip("/")
    except (ImportError, AttributeError):
        return os.environ.get("WANDB_BASE_URL") or "wandb's default server"


def _unreachable(url: str, timeout: float) -> str | None:
    """Why nothing answers HTTP at ``url`` (None when something does, whatever its status)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):  # noqa: S310
            return None
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return str(reason) or type(error).__name__


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _time(stamp: Any) -> float | None:
    """W&B's ISO time (``2026-12-04T18:58:42``, UTC) in unix seconds; None when absent."""
    if not isinstance(stamp, str) or not stamp:
        return None
    parsed = datetime.fromisoformat(stamp.removesuffix("Z"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _flat_items(prefix: str, value: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    for key, inner in value.items():
        full = f"{prefix}.{key}"
        if isinstance(inner, dict) and "_type" not in inner:
            yield from _flat_items(full, inner)
        else:
            yield full, inner


def _metrics(config: dict[str, Any], fidelity: Fidelity) -> list[dict[str, Any]]:
    """The ``define_metric`` definitions of a synced run's ``_wandb.m`` (W&B's ``MetricRecord`` by field
    number: "1" name or "2" glob, "4" step metric or "5" the 1-based index of its entry, "6" options
    (1 step_sync, 2 hidden), "7" summary options (1 min ... 8 first), "8" goal)."""
    entries = config.get("m")
    if not isinstance(entries, list):
        return []
    entries = [entry if isinstance(entry, dict) else {} for entry in entries]
    result: list[dict[str, Any]] = []
    for entry in entries:
        name = entry.get("1") or entry.get("2")
        axis, index = entry.get("4"), entry.get("5")
        if not axis and type(index) is int and 0 < index <= len(entries):
            axis = entries[index - 1].get("1")
        options = entry.get("6") if isinstance(entry.get("6"), list) else []
        chosen = entry.get("7") if isinstance(entry.get("7"), list) else []
        summary = [option for number, option in enumerate(_SUMMARY_NAMES, 1) if number in chosen]
        if "copy" in summary:
            fidelity.drop("metric summaries", "W&B's summary='copy' has no counterpart here")
        known = [option for option in summary if option not in ("none", "copy")]
        goal = {1: "minimize", 2: "maximize"}.get(entry.get("8")) if type(entry.get("8")) is int else None
        if isinstance(name, str) and name:
            result.append({"name": name, "step_metric": axis if isinstance(axis, str) and axis and axis != name
                           else None, "summary": known, "goal": goal, "hidden": 2 in options,
                           "step_sync": 1 in options})
    return result


class _ApiRun:
    """One W&B run read through the API, turned into an ``ImportedRun``."""

    def __init__(self, run: Any, root: str, project: str, base_url: str, fidelity: Fidelity) -> None:
        self.run, self.root, self.project, self.fidelity = run, root, project, fidelity
        self.base_url = base_url
        self.folder = ""  # the run's files, downloaded: <folder>/files/...
        self.media = WandbMedia(fidelity)
        self.run_dir = RunDir(root, project, run.id)  # where media and files are built: set by build()
        self.points = 0

    def fingerprint(self) -> list[Any]:
        """What changes when the run does: its state, last heartbeat, history length and summary."""
        summary = orjson.dumps(self.run.summary_metrics, default=str, option=orjson.OPT_SORT_KEYS)
        return [self.run.state, getattr(self.run, "heartbeat_at", None),
                getattr(self.run, "history_line_count", None), hashlib.sha256(summary).hexdigest()]

    def source(self) -> dict[str, Any]:
        return {"source": "wandb-api", "base_url": self.base_url,
                "path": f"{self.run.entity}/{self.run.project}/{self.run.id}", "fingerprint": self.fingerprint()}

    def build(self, folder: str) -> ImportedRun:
        """Read everything and build the run: the downloads go into ``<folder>/files``, the run's media and
        files into ``<folder>/run`` (``media/``, ``files/``), to be moved into the store when all is read.

        Raises:
            wandb's errors (CommError and others) when the server fails mid-way; OSError.
        """
        self.folder = folder
        self.run_dir = RunDir(folder, "staging", "run")
        run = self.run
        raw = dict(run.rawconfig or {})
        internal = raw.get("_wandb")
        internal = internal if isinstance(internal, dict) else {}
        charts = internal.get("visualize")
        if isinstance(charts, dict):
            self.media.charts.update({k: v for k, v in charts.items() if isinstance(v, dict)})
        metrics = _metrics(internal, self.fidelity)
        config = {k: v for k, v in run.config.items() if not k.startswith("_wandb") and k != "wandb_version"}
        self.fidelity.count("config values", len(config))  # by top-level key, as the import of a folder counts
        self.download_files()
        provenance = self.provenance()
        rows, last = self.rows()
        created = _time(run.created_at)
        started = self.start_time(rows, created)
        status = _STATES.get(str(run.state).lower(), "crashed")
        if status == "crashed" and str(run.state).lower() != "crashed":
            self.fidelity.drop("final state", f"W&B's state {run.state!r} has no counterpart here: imported as crashed")
        ended = max([started, *(t for _, t, _ in rows), _time(getattr(run, "heartbeat_at", None)) or started])
        exit_code = 0 if status == "finished" else None
        if status in ("failed", "killed", "crashed"):
            self.fidelity.drop("exit codes", "W&B's API does not give a run's exit code")
        defined = {metric["name"] for metric in metrics if metric["summary"] or metric["goal"]}
        summary = self.summary(dict(run.summary_metrics), last, defined)
        entity = run.entity or None
        artifacts = self.artifacts()
        return ImportedRun(
            project=self.project, run_id=run.id, name=run.name or run.id, started=started, source=self.source(),
            status=status, ended=ended if status != "running" else None, exit_code=exit_code,
            group=run.group or None, job_type=run.job_type or None, tags=list(run.tags or []),
            notes=run.notes or None, config=config, provenance=provenance, rows=rows, metrics=metrics,
            system=self.system(), summary=summary, extra_meta={"entity": entity, "host": None, "wandb": {
                "run_id": run.id, "project": run.project, "entity": entity, "artifacts": artifacts}})

    def artifacts(self) -> list[dict[str, Any]]:
        """The run's logged and used artifacts, named (in run.json's ``wandb``) and counted as not moved: their
        files would need W&B's artifact storage (import the run's folder, or fetch them with ``wandb artifact get``).
        The ``run_table`` artifacts W&B makes for logged tables are left out: those tables moved as media."""
        named: list[dict[str, Any]] = []
        for direction, kind, listing in (("logged", "artifacts", self.run.logged_artifacts),
                                         ("used", "artifact uses", self.run.used_artifacts)):
            for artifact in listing():
                if artifact.type == "run_table":
                    continue
                named.append({"direction": direction, "name": artifact.name, "type": artifact.type,
                              "aliases": [a for a in artifact.aliases if a != "latest"], "digest": artifact.digest})
                self.fidelity.drop(kind, "not fetched through W&B's API: import the run's folder, or fetch them "
                                   "with `wandb artifact get`")
        return named

    def provenance(self) -> dict[str, Any] | None:
        """The run's environment from its ``wandb-metadata.json`` (W&B's EnvironmentRecord as JSON, by JSON
        or proto field names), as the import of a folder records it; None when the run has none."""
        try:
            with open(os.path.join(self.folder, "files", "wandb-metadata.json"), "rb") as handle:
                meta = orjson.loads(handle.read())
        except (OSError, orjson.JSONDecodeError):
            return None
        if not isinstance(meta, dict):
            return None

        def get(*names: str) -> Any:
            return next((meta[name] for name in names if meta.get(name) not in (None, "")), None)

        program, args, git = get("program"), get("args") or [], get("git")
        data: dict[str, Any] = {"command": [program, *args] if program else None, "cwd": get("root"),
                                "python": {"version": get("python")} if get("python") else None,
                                "host": {"hostname": get("host"), "os": get("os"),
                                         "cpu_count": get("cpuCount", "cpu_count")}}
        if isinstance(git, dict) and (git.get("remote_url") or git.get("remoteUrl") or git.get("remote")
                                      or git.get("commit")):
            data["git"] = {"remote": git.get("remote_url") or git.get("remoteUrl") or git.get("remote"),
                           "commit": git.get("commit")}
        if get("gpuType", "gpu_type", "gpu"):
            data["gpu"] = {"count": get("gpuCount", "gpu_count"), "names": [get("gpuType", "gpu_type", "gpu")]}
        return {k: v for k, v in data.items() if v is not None}

    def start_time(self, rows: list[tuple[int, float, dict[str, Any]]], created: float | None) -> float:
        """The start to the microsecond: a row's ``_timestamp - _runtime`` (``createdAt`` has whole seconds)."""
        for _, t, row in rows:
            runtime = row.get("_runtime")
            if isinstance(runtime, (int, float)) and (created is None or abs(t - runtime - created) < 2):
                return t - float(runtime)
        return created if created is not None else (rows[0][1] if rows else 0.0)

    def rows(self) -> tuple[list[tuple[int, float, dict[str, Any]]], dict[str, Any]]:
        """Every history row (step, time, flat row) and the last value of each key."""
        result: list[tuple[int, float, dict[str, Any]]] = []
        last: dict[str, Any] = {}
        previous_step, previous_t = -1, 0.0
        for row in self.run.scan_history(page_size=1000):
            step = row.pop("_step", None)
            step = step if type(step) is int else previous_step + 1
            t = row.pop("_timestamp", None)
            t = float(t) if isinstance(t, (int, float)) else previous_t
            last.update(row)
            data = self.flatten(row, step)
            self.points += len(data) - ("_runtime" in data)
            result.append((step, t, data))
            previous_step, previous_t = max(previous_step, step), max(previous_t, t)
        self.fidelity.count("points", self.points)
        return result, last

    def flatten(self, row: dict[str, Any], step: int) -> dict[str, Any]:
        """Nested values as ``a.b`` keys (W&B's names), media as stored media tags."""
        flat: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, dict):
                if "_type" in value:
                    self.media.store(self.folder, self.run_dir.path, flat, key, value, step)
                else:
                    flat.update(_flat_items(key, value))
            elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
                flat[key] = orjson.dumps(value).decode()
            else:
                flat[key] = value
        return flat

    def summary(self, summary: dict[str, Any], last: dict[str, Any], defined: set[str]) -> dict[str, Any]:
        """The summary values set explicitly (not a row's last value, an aggregate or a medium)."""
        explicit: dict[str, Any] = {}
        for key, value in summary.items():
            if key.startswith("_") or key in defined:
                continue
            if isinstance(value, dict) and "_type" in value:
                if key not in last:
                    self.fidelity.drop("summary media", "a medium set only in the summary (not in history)")
                continue
            if key in last and _same(value, last[key]):
                continue
            explicit[key] = value
        self.fidelity.count("summary values", len(explicit))  # the others are recomputed from the rows
        return explicit

    def system(self) -> list[tuple[float, dict[str, Any]]]:
        """The system-metric samples the server keeps (``system.cpu`` ... as ``cpu`` ..., as in the .wandb file)."""
        samples: list[tuple[float, dict[str, Any]]] = []
        for event in self.run.history(stream="system", pandas=False, samples=_SYSTEM_SAMPLES):
            t = event.get("_timestamp")
            if not isinstance(t, (int, float)):
                continue
            data = {k.removeprefix("system."): v for k, v in event.items() if k not in ("_timestamp", "_runtime")}
            samples.append((float(t), data))
        self.fidelity.count("system samples", len(samples))
        return samples

    def download_files(self) -> None:
        """The run's files into ``<folder>/files`` (the media for the rows) and then into the run's ``files/``
        (not ``media/``: the rows store their media again, as the import of a folder does)."""
        files = os.path.join(self.folder, "files")
        for file in self.run.files(per_page=1000):
            file.download(root=files, replace=True)
        target = self.run_dir.files
        copy_run_files(files, target, self.fidelity)
        console = 0
        if os.path.isfile(os.path.join(files, "output.log")):
            with open(os.path.join(files, "output.log"), "rb") as handle:
                console = handle.read().count(b"\n")
        if console:
            self.fidelity.count("console lines", console)


def _core_errors() -> tuple[type[Exception], ...]:
    """The error wandb-core's answers raise where wandb does not turn them into its own (a history scan's pages)."""
    try:
        from wandb.sdk.lib.service.service_connection import WandbApiFailedError
    except ImportError:  # another wandb version: its errors are wandb.errors.Error
        return ()
    return (WandbApiFailedError,)


def _merge_folder(source: str, target: str) -> None:
    """Copy the files built in ``source`` (``media/``, ``files/``) into the run folder ``target``; raises OSError."""
    for name in ("media", "files"):
        if os.path.isdir(os.path.join(source, name)):
            shutil.copytree(os.path.join(source, name), os.path.join(target, name), dirs_exist_ok=True)


def import_wandb_api(path: str, root: str, project: str | None = None, base_url: str | None = None,
                     api_key: str | None = None, timeout: int | None = None,
                     progress: Progress | None = None) -> Fidelity:
    """Import every run of the W&B project ``path`` (``entity/project``, or ``project`` of the key's own
    entity) into the store at ``root``, into ``project`` (else W&B's project name).

    A run that fails mid-way is reported in the returned fidelity's errors and left as it was in the store;
    the other runs are imported. A run unchanged since its last API import is skipped.

    Raises:
        WandbMissing: wandb is not installed.
        TrackerError: no key, a server that cannot be reached or refuses the key, or an unknown project.
        OSError: the store cannot be written.
    """
    api, url = _connect(base_url, api_key, timeout)  # first: it says when wandb is not installed
    import wandb.errors

    failures: tuple[type[Exception], ...] = (OSError, TrackerError, ValueError, KeyError, TypeError,
                                             wandb.errors.Error, *_core_errors())
    say = progress or (lambda text: print(text, file=sys.stderr))
    try:
        runs = list(api.runs(path, per_page=100))
    except failures as error:
        raise TrackerError(f"W&B at {url}: project {path!r}: {_one_line(error)}\nHint: pass ENTITY/PROJECT as "
                           "W&B's project page names it") from None
    fidelity = Fidelity(f"W&B {url} project {path}", f"local store {root}")
    for number, run in enumerate(runs, 1):
        label = f"[{number}/{len(runs)}] W&B run {run.id}"
        target = project or run.project
        say(f"{label} ...")
        run_fidelity = Fidelity(fidelity.source, fidelity.destination)
        reader = _ApiRun(run, root, target, url, run_fidelity)
        try:
            previous = imported_source(root, target, run.id)
            if previous is not None and previous.get("fingerprint") == reader.fingerprint():
                fidelity.count("runs unchanged")
                say(f"{label}: unchanged since the last import, skipped")
                continue
            with tempfile.TemporaryDirectory(prefix="wandb-api-") as folder:
                imported = reader.build(folder)
                _merge_folder(reader.run_dir.path, RunDir(root, target, run.id).path)
            changed = write_imported_run(root, imported)
        except failures as error:
            fidelity.error(f"run {run.entity}/{run.project}/{run.id}", f"not imported: {_one_line(error)}")
            say(f"{label}: failed ({_one_line(error)})")
            continue
        fidelity.merge(run_fidelity)
        fidelity.count("runs")
        say(f"{label} -> {target}/{run.id}: {len(imported.rows):,} rows, {imported.status}"
            + ("" if changed else " (the same as stored)"))
    return fidelity

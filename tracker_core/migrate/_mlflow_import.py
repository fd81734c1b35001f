"""``tracker import mlflow``: the runs of an MLflow experiment, read through ``MlflowClient``, into the local store.

What becomes what:

- a run is keyed by its MLflow run id (our run id is the same), so importing again replaces it in place:
  never a duplicate. A run whose status, end time, params, tags and latest metrics are unchanged since the
  last import is skipped (``refresh=True`` reads it again), so an interrupted import continues where it
  stopped and a repeated one changes nothing;
- params become ``config``: a string that Python's ``str()`` gives back exactly from a number, a bool,
  None or a list/dict of these (how ``log_param`` wrote it) becomes that value, other strings stay strings;
  dotted keys nest (``optimizer.lr`` -> ``{"optimizer": {"lr": ...}}``) unless a key is also the prefix of
  another. The original strings are kept in the run's provenance (``provenance["mlflow"]["params"]``);
- every metric point (``get_metric_history``, which pages through the tracking server) is a ``log`` record
  at its own step and timestamp; points of one step logged at one time share a record. MLflow's SQL stores
  keep ±Inf as ±1.797e308 (the largest float); that value reads back as ±Inf. A ``_runtime`` metric (what a
  run imported from W&B carries into its MLflow export) is the row's ``_runtime``, as in a W&B import;
- the system tags ``mlflow.runName``, ``mlflow.note.content``, ``mlflow.user``, ``mlflow.parentRunId``
  become the name, notes, ``user`` and group (children are grouped under their parent's run id, and so is
  the parent, or else ``tracker.group``); ``mlflow.source.name``, ``.type``, ``.git.commit``, ``.git.branch``
  and ``.git.repoURL`` become provenance. Other tags become our tags, ``key`` or ``key=value``; all tags are
  kept in provenance too. The ``tracker.*`` tags of a run this tracker exported restore renamed keys, group
  and job type;
- FINISHED, FAILED, KILLED and RUNNING become finished, failed, killed and running, with MLflow's start and
  end times (SCHEDULED reads as running, and is reported);
- the run's artifacts are downloaded and committed as one artifact version, ``mlflow-<run id>``
  (type ``mlflow-artifacts``), logged by the run.
"""

from __future__ import annotations

import ast
import hashlib
import math
import os
import re
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import orjson

from tracker_core._errors import TrackerError
from tracker_core.migrate._fidelity import Fidelity
from tracker_core.migrate._imported_run import ImportedRun, imported_source, write_imported_run
from tracker_core.migrate._optional import require
from tracker_core.migrate._progress import RunProgress

__all__ = ["import_mlflow", "mlflow_client", "param_value", "parse_params", "project_name", "safe_uri"]

_FLOAT_MAX = sys.float_info.max
_LITERAL_LIMIT = 10_000
_STATES = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "killed", "RUNNING": "running",
           "SCHEDULED": "running"}
_RESERVED = frozenset({"_step", "_timestamp"})  # a ``_runtime`` metric stays the row's ``_runtime``, as W&B's
_SYSTEM_TAGS = {"mlflow.source.name": "program", "mlflow.source.type": "source_type"}
_GIT_TAGS = {"mlflow.source.git.commit": "commit", "mlflow.source.git.branch": "branch",
             "mlflow.source.git.repoURL": "remote"}
_CONSUMED_TAGS = frozenset({"mlflow.runName", "mlflow.note.content", "mlflow.user", "mlflow.parentRunId",
                            *_SYSTEM_TAGS, *_GIT_TAGS})


# ----- the tracking URI -----------------------------------------------------------------------------


def safe_uri(uri: str) -> str:
    """``uri`` without a user name or password, for messages and the run's record."""
    parts = urllib.parse.urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _check_uri(uri: str, must_exist: bool = True) -> None:
    """Refuse a URI that names nothing, before MLflow creates an empty store there or retries for minutes
    (with ``must_exist=False``, for an export, a new SQLite file or folder may be made, in a folder that exists).

    Raises:
        TrackerError: a SQLite file or folder that does not exist; a server that does not answer.
    """
    scheme = urllib.parse.urlsplit(uri).scheme
    if scheme == "sqlite":
        path = uri.split(":///", 1)[1] if ":///" in uri else ""
        if not must_exist and path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise TrackerError(f"MLflow tracking URI {uri!r}: no folder for the SQLite file {path!r}")
        if must_exist and path and path != ":memory:" and not os.path.isfile(path):
            raise TrackerError(f"MLflow tracking URI {uri!r}: no SQLite file {path!r}\n"
                               "Hint: check the path (sqlite:///relative.db, sqlite:////absolute/path.db)")
    elif scheme in ("", "file"):
        path = urllib.parse.urlsplit(uri).path if scheme else uri
        if not os.path.isdir(path if must_exist else os.path.dirname(os.path.abspath(path))):
            raise TrackerError(f"MLflow tracking URI {uri!r}: no folder {path!r}\n"
                               "Hint: pass the mlruns folder, a database URI or the server's URL")
        # MLflow 3 refuses its folder store unless asked; reading old mlruns folders is what an import is for
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    elif scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=10):  # noqa: S310 - http(s) only
                pass
        except urllib.error.HTTPError:
            pass  # it answered: a server without /health (a proxy, Databricks) may still be MLflow's
        except (urllib.error.URLError, OSError) as exc:
            raise TrackerError(f"MLflow tracking URI {safe_uri(uri)!r} does not answer: {exc}\n"
                               "Hint: start the server or check the address") from None


def mlflow_client(uri: str, must_exist: bool = True) -> Any:
    """An ``MlflowClient`` for ``uri`` after checking that the URI names a store (or, with ``must_exist=False``,
    a place where one can be made).

    Raises:
        TrackerError: mlflow is not installed (the ``mlflow`` extra), or the URI names nothing.
    """
    require("mlflow", "mlflow")
    _check_uri(uri, must_exist)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def project_name(experiment: str) -> str:
    """The local project for an experiment: its name, with characters a folder name cannot hold as '_'."""
    name = re.sub(r"[^\w.\- ]", "_", experiment.strip("/")).strip() or "mlflow"
    return "mlflow_artifacts" if name == "artifacts" else name


# ----- params ---------------------------------------------------------------------------------------


def param_value(text: str) -> Any:
    """The value ``log_param`` turned into ``text`` (``str(value)``), when that is certain; else the text."""
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    if text in ("nan", "inf", "-inf"):
        return float(text)
    if not text or len(text) > _LITERAL_LIMIT or text[0] not in "-0123456789.[{(":
        return text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return text
    if not _plain(value) or str(value) != text:
        return text
    return value


def _plain(value: Any) -> bool:
    if isinstance(value, (bool, int, float)) or value is None:
        return not isinstance(value, complex)
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return isinstance(value, str)


def parse_params(params: dict[str, str]) -> dict[str, Any]:
    """MLflow's params as a config: values typed where ``str()`` round-trips, dotted keys nested where no
    key is also another's prefix (then every key stays flat)."""
    values = {key: param_value(text) for key, text in params.items()}
    dotted = [key for key in values if "." in key]
    if not dotted or not _nestable(list(values)):
        return values
    config: dict[str, Any] = {}
    for key, value in sorted(values.items()):
        node = config
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return config


def _nestable(keys: list[str]) -> bool:
    """True when dotted keys can nest without losing one: no empty part, no key that is another's prefix."""
    prefixes: set[str] = set()
    for key in keys:
        parts = key.split(".")
        if "" in parts:
            return False
        prefixes.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return not prefixes.intersection(keys)


# ----- one run --------------------------------------------------------------------------------------


def _fingerprint(run: Any) -> str:
    info, data = run.info, run.data
    body = orjson.dumps([info.status, info.end_time, info.lifecycle_stage, sorted(data.params.items()),
                         sorted(data.tags.items()), sorted((k, repr(v)) for k, v in data.metrics.items())])
    return hashlib.sha256(body).hexdigest()


def _metric_value(value: float) -> float:
    if value == _FLOAT_MAX:
        return math.inf
    if value == -_FLOAT_MAX:
        return -math.inf
    return float(value)


def _rows(client: Any, run_id: str, keys: list[str], fidelity: Fidelity,
          renamed: dict[str, str]) -> list[tuple[int, float, dict[str, Any]]]:
    """Every metric point, grouped into one row per (step, timestamp), in step then time order."""
    grouped: dict[tuple[int, int], dict[str, Any]] = {}
    for mlflow_name in sorted(keys):
        key = renamed.get(mlflow_name, mlflow_name)
        if key in _RESERVED:
            fidelity.drop("points", f"metric named {key!r}, a name reserved here", len(client.get_metric_history(
                run_id, mlflow_name)))
            continue
        seen: set[int] = set()
        history = client.get_metric_history(run_id, mlflow_name)
        if not history:
            raise ValueError(f"metric {key!r} has a latest value but no history: a half-written run")
        for point in history:
            row = grouped.setdefault((int(point.step), int(point.timestamp)), {})
            if key in row:
                fidelity.drop("points", "two values of one metric at the same step and millisecond (the later is kept)")
            elif int(point.step) in seen:
                fidelity.drop("points", "several values of a metric at one step (the log keeps each; history "
                              "shows the step's last)")
            row[key] = _metric_value(point.value)
            seen.add(int(point.step))
            fidelity.count("points")
    return [(step, ts / 1000.0, row) for (step, ts), row in sorted(grouped.items())]


def _renamed(tags: dict[str, str]) -> dict[str, str]:
    """MLflow key -> original name, from the ``tracker.renamed.N`` tags ``tracker export --to mlflow`` writes."""
    found: dict[str, str] = {}
    for key, value in tags.items():
        if key.startswith("tracker.renamed."):
            try:
                names = orjson.loads(value)
            except orjson.JSONDecodeError:
                continue
            if isinstance(names, dict):
                found.update({str(k): str(v) for k, v in names.items()})
    return found


def _tags_and_provenance(tags: dict[str, str], params: dict[str, str], run: Any, uri: str,
                         renamed: dict[str, str]) -> tuple[list[str], dict[str, Any]]:
    ours = sorted(renamed.get(key, key) if value in ("", None) else f"{renamed.get(key, key)}={value}"
                  for key, value in tags.items() if not key.startswith(("mlflow.", "tracker.")))
    provenance: dict[str, Any] = {"mlflow": {"tracking_uri": uri, "run_id": run.info.run_id,
                                             "experiment_id": run.info.experiment_id,
                                             "artifact_uri": run.info.artifact_uri,
                                             "params": dict(params), "tags": dict(tags)}}
    for tag, name in _SYSTEM_TAGS.items():
        if tag in tags:
            provenance[name] = tags[tag]
    git = {name: tags[tag] for tag, name in _GIT_TAGS.items() if tag in tags}
    if git:
        provenance["git"] = git
    return ours, provenance


def _artifacts(client: Any, run_id: str, root: str, project: str, fidelity: Fidelity) -> list[dict[str, Any]]:
    """Download the run's artifacts and commit them as one version of ``mlflow-<run id>``; its record."""
    if not client.list_artifacts(run_id):
        return []
    from tracker_core.artifacts import Artifact, ArtifactStore

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # ours counts runs
    with tempfile.TemporaryDirectory(prefix="tracker-mlflow-") as folder:
        local = client.download_artifacts(run_id, "", dst_path=folder)
        artifact = Artifact(f"mlflow-{run_id}", "mlflow-artifacts",
                            description=f"the artifacts of MLflow run {run_id}")
        artifact.add_dir(local)
        files = len(artifact.sources())
        version = ArtifactStore(root).commit(artifact, created_by=f"{project}/{run_id}", progress=False)
    fidelity.count("artifacts")
    fidelity.count("files", files)
    return [{"direction": "logged", "name": version.name, "version": version.version, "digest": version.digest,
             "aliases": list(version.aliases)}]


def _unread_parts(run: Any, fidelity: Fidelity) -> None:
    """Count what MLflow holds beside a run that is not imported: dataset inputs and logged models."""
    inputs = getattr(run, "inputs", None)
    datasets = len(getattr(inputs, "dataset_inputs", None) or ())
    if datasets:
        fidelity.drop("datasets", "MLflow dataset inputs of a run are not imported", datasets)
    outputs = getattr(run, "outputs", None)
    models = len(getattr(outputs, "model_outputs", None) or ())
    if models:
        fidelity.drop("logged models", "MLflow 3 logged models live outside the run's artifacts; not imported",
                      models)


def _import_run(client: Any, run: Any, uri: str, root: str, project: str, refresh: bool,
                fidelity: Fidelity, parents: set[str]) -> str:
    """Import one run; returns 'imported', 'updated' or 'unchanged'. Raises whatever MLflow raises."""
    info, data = run.info, run.data
    run_id = info.run_id
    fingerprint = _fingerprint(run)
    previous = imported_source(root, project, run_id)
    if not refresh and previous is not None and previous.get("fingerprint") == fingerprint:
        return "unchanged"
    tags: dict[str, str] = dict(data.tags)
    params: dict[str, str] = dict(data.params)
    parent = tags.get("mlflow.parentRunId")
    status = _STATES.get(info.status, "running")
    if info.status == "SCHEDULED":
        fidelity.drop("run states", "SCHEDULED (read as running)")
    renamed = _renamed(tags)
    our_tags, provenance = _tags_and_provenance(tags, params, run, uri, renamed)
    config = parse_params({renamed.get(key, key): value for key, value in params.items()})
    rows = _rows(client, run_id, list(data.metrics), fidelity, renamed)
    artifacts = _artifacts(client, run_id, root, project, fidelity)
    _unread_parts(run, fidelity)
    started = (info.start_time or 0) / 1000.0
    ended = info.end_time / 1000.0 if info.end_time else None
    imported = ImportedRun(
        project=project, run_id=run_id, name=tags.get("mlflow.runName") or info.run_name or run_id,
        started=started, status=status, ended=ended if status != "running" else None,
        exit_code=0 if status == "finished" else None,
        group=parent or (run_id if run_id in parents else None) or tags.get("tracker.group"),
        job_type=tags.get("tracker.job_type"), tags=our_tags,
        notes=tags.get("mlflow.note.content"), extra_meta={"user": tags.get("mlflow.user") or info.user_id or None},
        config=config, provenance=provenance, rows=rows, artifacts=artifacts,
        source={"source": "mlflow", "tracking_uri": uri, "run_id": run_id, "experiment_id": info.experiment_id,
                "fingerprint": fingerprint})
    changed = write_imported_run(root, imported)
    fidelity.count("runs")
    fidelity.count("config values", len(params))
    if parent:
        fidelity.count("child runs")
    if not changed:
        return "unchanged"
    return "updated" if previous is not None else "imported"


def _search_runs(client: Any, experiment_id: str, fidelity: Fidelity) -> list[Any]:
    """Every active run of the experiment, page by page (bounded by the pages MLflow says it has).

    A folder store's search fails as a whole on one half-written run (a torn metrics file): then each
    run is read on its own, and those that cannot be are named in the report's errors.
    """
    from mlflow.entities import ViewType
    from mlflow.exceptions import MlflowException

    runs: list[Any] = []
    token: str | None = None
    try:
        for _ in range(1_000_000):
            page = client.search_runs([experiment_id], run_view_type=ViewType.ACTIVE_ONLY, max_results=1000,
                                      order_by=["attributes.start_time ASC"], page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                break
        return runs
    except MlflowException:
        list_infos = getattr(client._tracking_client.store, "_list_run_infos", None)  # the folder store's
        if list_infos is None:
            raise
    runs = []
    for info in list_infos(experiment_id, ViewType.ACTIVE_ONLY):
        try:
            runs.append(client.get_run(info.run_id))
        except MlflowException as exc:
            fidelity.error(f"run {info.run_id}", f"MLflow cannot read it: {exc.message}".splitlines()[0])
    return sorted(runs, key=lambda run: (run.info.start_time or 0, run.info.run_id))


def import_mlflow(tracking_uri: str, experiment: str, root: str, project: str | None = None,
                  refresh: bool = False, progress: bool = True,
                  on_run: Callable[[str, str], None] | None = None) -> Fidelity:
    """Import every active run of ``experiment`` at ``tracking_uri`` into the local store at ``root``.

    A run that cannot be read is named in the report's errors and the others are still imported.
    ``on_run(run_id, outcome)`` is told of each run ('imported', 'updated', 'unchanged' or 'error').

    Raises:
        TrackerError: mlflow is not installed, the URI names no store, or the experiment does not exist.
    """
    client = mlflow_client(tracking_uri)
    uri = safe_uri(tracking_uri)
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_experiment_by_name(experiment)
    except MlflowException as exc:
        raise TrackerError(f"MLflow tracking URI {uri!r}: {exc.message}") from None
    if found is None:
        names = sorted(e.name for e in client.search_experiments())
        raise TrackerError(f"no MLflow experiment {experiment!r} at {uri}\n"
                           f"Hint: experiments there: {', '.join(names) or 'none'}")
    project = project or project_name(experiment)
    fidelity = Fidelity(f"mlflow {uri} experiment {experiment!r}", f"local store {root} project {project!r}")
    runs = _search_runs(client, found.experiment_id, fidelity)
    parents = {run.data.tags["mlflow.parentRunId"] for run in runs if "mlflow.parentRunId" in run.data.tags}
    bar = RunProgress(len(runs), "importing from MLflow", enabled=progress)
    for run in runs:
        run_id = run.info.run_id
        try:
            outcome = _import_run(client, run, uri, root, project, refresh, fidelity, parents)
        except (MlflowException, TrackerError, OSError, ValueError, TypeError, KeyError) as exc:
            fidelity.error(f"run {run_id}", f"{type(exc).__name__}: {exc}".splitlines()[0])
            outcome = "error"
        if outcome in ("unchanged",):
            fidelity.count("runs unchanged")
        if on_run is not None:
            on_run(run_id, outcome)
        bar.advance(run_id)
    bar.close()
    return fidelity

"""``tracker export --to mlflow``: a project's runs written into an MLflow store through ``MlflowClient.log_batch``.

What becomes what:

- each run becomes one MLflow run tagged ``tracker.run_id``; exporting again finds it by that tag and adds
  only what it lacks (no duplicate runs or points), and skips a run whose log did not change
  (``tracker.log_digest``). MLflow params cannot change once logged: a config value changed since the
  last export is reported, not written;
- config is flattened with dots into params (``str()`` of each value, as ``log_param`` does); history rows
  become metric points with their step and timestamp (MLflow keeps milliseconds); booleans and integers
  become floats; text, null and media values have no MLflow metric and are reported;
- keys MLflow refuses (characters outside ``[/\\w.\\- ]``, empty or ``.`` path parts, over 250 characters)
  are rewritten, and the original names kept in the ``tracker.renamed`` tags (JSON, read back by
  ``tracker import mlflow``); values over MLflow's limits (6,000 characters for a param, 8,000 for a tag)
  are cut and reported;
- name, notes, tags (``key=value`` as a key and value, others with an empty value), group, user, program and
  git commit go to ``mlflow.runName``, ``mlflow.note.content``, the run's tags, ``tracker.group``,
  ``mlflow.user``, ``mlflow.source.name``, ``mlflow.source.git.commit``; finished, failed and killed become
  FINISHED, FAILED and KILLED with the run's start and end times (crashed becomes FAILED, stopped KILLED,
  both reported); a running run stays RUNNING;
- logged artifact versions are uploaded under ``artifacts/<name>/``, the run's saved files under ``files/``;
  summary values set directly (not from the history), system metrics, ``define_metric`` definitions and
  alerts have no MLflow place: reported.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from tracker_core._encoding import MediaRef
from tracker_core._errors import TrackerError
from tracker_core.migrate._fidelity import Fidelity
from tracker_core.migrate._mlflow_import import mlflow_client, param_value, safe_uri
from tracker_core.migrate._progress import RunProgress

if TYPE_CHECKING:
    from tracker_core.api import Api, StoredRun

__all__ = ["export_mlflow", "flatten_config", "mlflow_key"]

_BAD = re.compile(r"[^/\w.\- ]")
_KEY_LIMIT = 250
_RENAMED_CHUNK = 7000  # below the 8,000 characters of a tag value
_STATUS = {"finished": "FINISHED", "failed": "FAILED", "killed": "KILLED", "crashed": "FAILED",
           "stopped": "KILLED"}


def _limits() -> dict[str, int]:
    """MLflow's own batch and length limits, read from the installed mlflow."""
    from mlflow.utils import validation as v

    return {"metrics": v.MAX_METRICS_PER_BATCH, "params_tags": v.MAX_PARAMS_TAGS_PER_BATCH,
            "entities": v.MAX_ENTITIES_PER_BATCH, "request": v.MAX_BATCH_LOG_REQUEST_SIZE,
            "param_value": v.MAX_PARAM_VAL_LENGTH, "tag_value": v.MAX_TAG_VAL_LENGTH, "key": v.MAX_ENTITY_KEY_LENGTH}


def mlflow_key(key: str) -> str:
    """``key`` as a name MLflow accepts (``^[/\\w.\\- ]*$``, at most 250 characters, a normal relative path)."""
    cleaned = _BAD.sub("_", key)
    parts = [part if part not in ("", ".", "..") else "_" for part in cleaned.split("/")]
    name = "/".join(parts)[:_KEY_LIMIT].rstrip("/") or "_"
    if posixpath.normpath(name) != name:  # cut in the middle of a part: make it plain again
        name = name.replace(".", "_")
    return name


class _Names:
    """Keys given to MLflow for one run, unique, with the originals of those that had to change."""

    def __init__(self, renamed: Mapping[str, str] | None = None) -> None:
        self.renamed: dict[str, str] = dict(renamed or {})  # MLflow key -> original
        self._given: dict[str, str] = {original: name for name, original in self.renamed.items()}
        self._used = set(self._given.values())

    def __call__(self, key: str) -> str:
        found = self._given.get(key)
        if found is not None:
            return found
        name = base = mlflow_key(key)
        n = 1
        while name in self._used:
            n += 1
            name = f"{base[:_KEY_LIMIT - len(str(n)) - 1]}_{n}"
        self._given[key] = name
        self._used.add(name)
        if name != key:
            self.renamed[name] = key
        return name


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) for every leaf of a nested config; an empty dict is a leaf."""
    for key, value in config.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten_config(value, full + ".")
        else:
            yield full, value


def _param_text(value: Any) -> str:
    return str(value)


def _batches(metrics: list[Any], params: list[Any], tags: list[Any], limits: dict[str, int]
             ) -> Iterator[tuple[list[Any], list[Any], list[Any]]]:
    """Split into log_batch calls within MLflow's counts and (with room to spare) its request size."""
    budget = limits["request"] * 3 // 4
    for items, kind in ((params, "params"), (tags, "tags"), (metrics, "metrics")):
        count_limit = limits["metrics"] if kind == "metrics" else limits["params_tags"]
        batch: list[Any] = []
        size = 0
        for item in items:
            item_size = len(item.key) + len(str(item.value)) + 64
            if batch and (len(batch) >= count_limit or size + item_size > budget):
                yield _as_call(kind, batch)
                batch, size = [], 0
            batch.append(item)
            size += item_size
        if batch:
            yield _as_call(kind, batch)


def _as_call(kind: str, batch: list[Any]) -> tuple[list[Any], list[Any], list[Any]]:
    return (batch if kind == "metrics" else [], batch if kind == "params" else [], batch if kind == "tags" else [])


def _log_digest(run: StoredRun) -> str:
    digest = hashlib.sha256()
    with open(os.path.join(run.dir, "events.jsonl"), "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _existing(client: Any, experiment_id: str) -> dict[str, Any]:
    """Our run id -> the MLflow run exported from it earlier (every page of the search)."""
    from mlflow.entities import ViewType

    found: dict[str, Any] = {}
    token: str | None = None
    for _ in range(1_000_000):
        page = client.search_runs([experiment_id], filter_string="tags.`tracker.run_id` != ''",
                                  run_view_type=ViewType.ACTIVE_ONLY, max_results=1000, page_token=token)
        for run in page:
            found.setdefault(run.data.tags["tracker.run_id"], run)
        token = page.token
        if not token:
            break
    return found


def _cut(text: str, limit: int, what: str, fidelity: Fidelity) -> str:
    if len(text) <= limit:
        return text
    fidelity.drop(what, f"longer than MLflow's {limit:,} characters (cut)")
    return text[:limit]


def _run_tags(run: StoredRun, names: _Names, limits: dict[str, int], fidelity: Fidelity) -> dict[str, str]:
    tags: dict[str, str] = {"tracker.run_id": run.id, "tracker.project": run.project, "mlflow.runName": run.name}
    if run.notes:
        tags["mlflow.note.content"] = _cut(run.notes, limits["tag_value"], "notes", fidelity)
    if run.group:
        tags["tracker.group"] = run.group
    if run.job_type:
        tags["tracker.job_type"] = run.job_type
    provenance = run.provenance or {}
    git = provenance.get("git") or {}
    for ours, theirs in (("commit", "mlflow.source.git.commit"), ("branch", "mlflow.source.git.branch"),
                         ("remote", "mlflow.source.git.repoURL")):
        if git.get(ours):
            tags[theirs] = str(git[ours])
    program = provenance.get("program") or (provenance.get("command") or [None, None])[1:2]
    if isinstance(program, list):
        program = program[0] if program else None
    if program:
        tags["mlflow.source.name"] = str(program)
    user = run._meta.get("user")
    if user:
        tags["mlflow.user"] = str(user)
    for label in run.tags:
        key, _, value = label.partition("=")
        if key.startswith(("mlflow.", "tracker.")):
            fidelity.drop("tags", "a tag named like MLflow's or this exporter's own (left out)")
            continue
        tags[names(key)] = _cut(value, limits["tag_value"], "tags", fidelity)
    return tags


def _metrics(run: StoredRun, names: _Names, fidelity: Fidelity) -> tuple[list[tuple[str, float, int, int]], set[str]]:
    """(MLflow key, value, timestamp ms, step) of every numeric point of the history, and the history's keys."""
    import math

    points: list[tuple[str, float, int, int]] = []
    keys: set[str] = set()
    for row in run.history():
        keys.update(row)
        step, stamp = int(row["_step"]), round(float(row["_timestamp"]) * 1000)
        for key, value in row.items():
            if key in ("_step", "_timestamp"):
                continue
            if isinstance(value, (bool, int, float)):
                number = float(value)
                if not isinstance(value, float):
                    fidelity.count("int/bool points as floats")  # the same number; MLflow reads it back as a float
                if math.isinf(number):
                    fidelity.count("±Inf points")  # MLflow's SQL stores keep ±1.797e308; the import reads ±Inf
                points.append((names(key), number, stamp, step))
            elif isinstance(value, MediaRef) or (isinstance(value, list) and value and
                                                 all(isinstance(item, MediaRef) for item in value)):
                fidelity.drop("media", f"{getattr(value, 'kind', 'media list')} (MLflow metrics are numbers)")
            elif value is None:
                fidelity.drop("points", "null values (MLflow metrics are numbers)")
            else:
                fidelity.drop("points", f"{type(value).__name__} values (MLflow metrics are numbers)")
    return points, keys


def _as_stored(value: float) -> float:
    """``value`` as MLflow's SQL stores keep it: ±Inf as ±the largest float."""
    import math
    import sys

    return math.copysign(sys.float_info.max, value) if math.isinf(value) else value


def _summary_only(run: StoredRun, history_keys: set[str], fidelity: Fidelity) -> None:
    for key in run.summary:
        if key not in history_keys and not key.startswith("_"):
            fidelity.drop("summary values", "set in the summary, not logged in the history (MLflow has no summary)")


def _upload_files(client: Any, run: StoredRun, mlflow_run_id: str, previous: Mapping[str, str],
                  fidelity: Fidelity) -> dict[str, str]:
    """Upload logged artifact versions and saved files not uploaded before; the tags that say what was."""
    tags: dict[str, str] = {}
    for artifact in run.logged_artifacts():
        tag = f"tracker.artifact.{mlflow_key(artifact.name)}"
        if previous.get(tag) != artifact.digest:
            folder = artifact.download()
            client.log_artifacts(mlflow_run_id, folder, artifact_path=f"artifacts/{mlflow_key(artifact.name)}")
        tags[tag] = str(artifact.digest)
        fidelity.count("artifacts")
        fidelity.count("files", len(artifact.files()))
    files = os.path.join(run.dir, "files")
    if os.path.isdir(files) and os.listdir(files) and previous.get("tracker.files") != "uploaded":
        client.log_artifacts(mlflow_run_id, files, artifact_path="files")
        fidelity.count("files", sum(len(found) for _, _, found in os.walk(files)))
        tags["tracker.files"] = "uploaded"
    return tags


def _export_run(client: Any, run: StoredRun, experiment_id: str, existing: Any, limits: dict[str, int],
                fidelity: Fidelity) -> str:
    """Write one run; returns 'exported', 'updated' or 'unchanged'. Raises what MLflow raises."""
    from mlflow.entities import Metric, Param, RunTag

    digest = _log_digest(run)
    old_tags: dict[str, str] = dict(existing.data.tags) if existing is not None else {}
    if old_tags.get("tracker.log_digest") == digest:
        return "unchanged"
    names = _Names(_renamed(old_tags))  # the same MLflow keys as last time
    tags = _run_tags(run, names, limits, fidelity)
    started = round(run.created_at.timestamp() * 1000) if run.created_at else None
    if existing is None:
        mlflow_run = client.create_run(experiment_id, start_time=started, run_name=run.name)
        mlflow_run_id = mlflow_run.info.run_id
        old_params: dict[str, str] = {}
    else:
        mlflow_run_id = existing.info.run_id
        old_params = dict(existing.data.params)
    params: list[Any] = []
    for key, value in flatten_config(run.config):
        name = names(key)
        text = _cut(_param_text(value), limits["param_value"], "config values", fidelity)
        fidelity.count("config values")
        if isinstance(value, str) and not isinstance(param_value(text), str):
            fidelity.drop("config values", "text that reads back as a number, bool or None in MLflow's params")
        if name in old_params:
            if old_params[name] != text:
                fidelity.drop("config values", "changed since the last export (MLflow params cannot change)")
            continue
        params.append(Param(name, text))
    points, history_keys = _metrics(run, names, fidelity)
    _summary_only(run, history_keys, fidelity)
    if existing is not None:
        have = {(m.key, m.step, m.timestamp, repr(m.value)) for key in existing.data.metrics
                for m in client.get_metric_history(mlflow_run_id, key)}
        points = [p for p in points if (p[0], p[3], p[2], repr(_as_stored(p[1]))) not in have]
    fidelity.count("points", len(points))
    metrics = [Metric(key, value, stamp, step) for key, value, stamp, step in points]
    if run.system_metrics():
        fidelity.drop("system metrics", "system metrics samples are not exported", len(run.system_metrics()))
    definitions = run.metric_definitions()
    if definitions:
        fidelity.drop("metric definitions", "define_metric step metrics, summaries and goals (MLflow has none)",
                      len(definitions))
    alerts = run.alerts()
    if alerts:
        fidelity.drop("alerts", "MLflow has no alerts", len(alerts))
    tags.update(_upload_files(client, run, mlflow_run_id, old_tags, fidelity))
    tags.update(_renamed_tags(names.renamed))
    tags["tracker.log_digest"] = digest
    tag_list = [RunTag(k, v) for k, v in tags.items() if old_tags.get(k) != v]
    for batch_metrics, batch_params, batch_tags in _batches(metrics, params, tag_list, limits):
        client.log_batch(mlflow_run_id, metrics=batch_metrics, params=batch_params, tags=batch_tags)
    status = _STATUS.get(run.status)
    if run.status in ("crashed", "stopped"):
        fidelity.drop("run states", f"{run.status} (MLflow has {status})")
    if status is not None:
        ended = run.created_at.timestamp() + (run.duration or 0.0) if run.created_at else None
        client.set_terminated(mlflow_run_id, status, end_time=round(ended * 1000) if ended else None)
    fidelity.count("runs")
    return "updated" if existing is not None else "exported"


def _renamed_tags(renamed: dict[str, str]) -> dict[str, str]:
    """The originals of rewritten keys as JSON, in tags of at most ``_RENAMED_CHUNK`` characters."""
    tags: dict[str, str] = {}
    chunk: dict[str, str] = {}
    for name, original in sorted(renamed.items()):
        if chunk and len(orjson.dumps({**chunk, name: original})) > _RENAMED_CHUNK:
            tags[f"tracker.renamed.{len(tags) + 1}"] = orjson.dumps(chunk).decode()
            chunk = {}
        chunk[name] = original
    if chunk:
        tags[f"tracker.renamed.{len(tags) + 1}"] = orjson.dumps(chunk).decode()
    return tags


def _renamed(tags: Mapping[str, str]) -> dict[str, str]:
    """MLflow key -> original name, from the ``tracker.renamed.N`` tags of an exported run."""
    found: dict[str, str] = {}
    for key, value in tags.items():
        if key.startswith("tracker.renamed."):
            try:
                found.update(orjson.loads(value))
            except orjson.JSONDecodeError:
                continue
    return found


def export_mlflow(api: Api, project: str, tracking_uri: str, experiment: str | None = None,
                  runs: list[str] | None = None, progress: bool = True) -> Fidelity:
    """Export the runs of ``project`` (or only ``runs``) in the local store ``api`` to ``tracking_uri``.

    A run that cannot be written is named in the report's errors and the others are still exported.

    Raises:
        TrackerError: mlflow is not installed, the URI names nothing usable, or the project has no runs.
    """
    from mlflow.exceptions import MlflowException

    client = mlflow_client(tracking_uri, must_exist=False)
    uri = safe_uri(tracking_uri)
    selected = list(api.runs(project, per_page=1000))
    if runs:
        selected = [run for run in selected if run.id in runs or run.id.startswith(tuple(runs))]
    if not selected:
        raise TrackerError(f"no runs to export in project {project!r} of {api.root}\n"
                           "Hint: list them with `tracker runs -p PROJECT`")
    name = experiment or project
    try:
        found = client.get_experiment_by_name(name)
        experiment_id = found.experiment_id if found is not None else client.create_experiment(name)
        existing = _existing(client, experiment_id)
    except MlflowException as exc:
        raise TrackerError(f"MLflow tracking URI {uri!r}: {exc.message}") from None
    limits = _limits()
    fidelity = Fidelity(f"local store {api.root} project {project!r}", f"mlflow {uri} experiment {name!r}")
    bar = RunProgress(len(selected), "exporting to MLflow", enabled=progress)
    for run in selected:
        try:
            outcome = _export_run(client, run, experiment_id, existing.get(run.id), limits, fidelity)
            if outcome == "unchanged":
                fidelity.count("runs unchanged")
        except (MlflowException, TrackerError, OSError, ValueError) as exc:
            fidelity.error(f"run {run.path}", f"{type(exc).__name__}: {exc}".splitlines()[0])
        bar.advance(run.id)
    bar.close()
    return fidelity

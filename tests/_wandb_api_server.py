"""A small local emulation of the W&B server's API, for testing ``tracker import wandb --api`` with the real
``wandb.Api`` client (and its wandb-core process, which makes the HTTP requests).

It answers only what ``wandb.Api`` asks during an import, in the shapes wandb 0.31 sends and reads: the
``Viewer`` check of the key (HTTP basic auth; any other key gets a 401), ``GetDefaultEntity``, the project's
``Runs`` pages (one run a page, in order; filters and order are not read), a run's fields (``Run``,
``RunHistoryKeys``), its history (``RunParquetHistory`` says there is no exported parquet, so wandb-core's
``scan_history`` pages through ``HistoryPage``), its system-metric events (``RunFullHistory``),
``ServerFeaturesQuery`` (no features), its logged and used artifacts as listed (``RunOutputArtifacts``,
``RunInputArtifacts``: no manifests or artifact files behind them), its file list (``RunFiles``) and the
file downloads (``GET /files/...``). Every other operation is answered with a GraphQL error and recorded
in ``unknown``, so a test sees what it missed.

The served data is a synced run's: ``served_run`` builds it from an offline run folder that real wandb
wrote, from its own ``.wandb`` records (what ``wandb sync`` would upload: the config with the metric
definitions in ``_wandb.m``, every history row, the summary, the system samples with W&B's ``system.``
prefix, the environment as ``wandb-metadata.json``) and its ``files/``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ServedRun", "WandbApiEmulator", "served_run"]


@dataclass
class ServedRun:
    """One run as the W&B server holds it after a sync."""

    name: str  # the W&B run id
    display_name: str
    state: str
    config: dict[str, Any]  # user keys and _wandb, unwrapped
    summary: dict[str, Any]
    tags: list[str]
    notes: str | None
    group: str | None
    job_type: str | None
    created_at: float
    heartbeat_at: float
    history: list[dict[str, Any]]
    events: list[dict[str, Any]]
    files: dict[str, bytes] = field(default_factory=dict)
    logged: list[dict[str, Any]] = field(default_factory=list)  # artifacts: name, type, description, ...
    used: list[dict[str, Any]] = field(default_factory=list)


def _iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _loads(text: str) -> Any:
    return json.loads(text)  # Python's json reads NaN and Infinity, as W&B writes them


def _put(target: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value


_SUMMARY_NAMES = ("min", "max", "mean", "best", "last", "none", "copy", "first")


def _metric_entry(metric: Any) -> dict[str, Any]:
    """A ``MetricRecord`` as a synced run's config keeps it in ``_wandb.m``: by field number."""
    entry: dict[str, Any] = {"1": metric.name} if metric.name else {"2": metric.glob_name}
    if metric.step_metric:
        entry["4"] = metric.step_metric
    options = [n for n, on in ((1, metric.options.step_sync), (2, metric.options.hidden)) if on]
    if options:
        entry["6"] = options
    summary = [n for n, name in enumerate(_SUMMARY_NAMES, 1) if getattr(metric.summary, name)]
    if summary:
        entry["7"] = summary
    if metric.goal:
        entry["8"] = int(metric.goal)
    return entry


def served_run(run_folder: str) -> ServedRun:
    """What the W&B server would hold for the offline run in ``run_folder`` once synced."""
    from google.protobuf import json_format
    from wandb.proto import wandb_internal_pb2 as pb

    from tracker_core.migrate import Fidelity, read_wandb_records

    (name,) = [n for n in os.listdir(run_folder) if n.endswith(".wandb")]
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}
    logged: list[dict[str, Any]] = []
    environment: dict[str, Any] = {}
    metrics: list[dict[str, Any]] = []  # the server keeps define_metric's records in the config's _wandb.m
    state, heartbeat = "crashed", 0.0
    for payload in read_wandb_records(os.path.join(run_folder, name), Fidelity("W&B", "emulator")):
        record = pb.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            meta = {"name": run.run_id, "display_name": run.display_name or run.run_id, "tags": list(run.tags),
                    "notes": run.notes or None, "group": run.run_group or None, "job_type": run.job_type or None,
                    "created_at": run.start_time.seconds + run.start_time.nanos / 1e9}
            for item in run.config.update:
                _put(config, list(item.nested_key) or [item.key], _loads(item.value_json))
        elif kind == "config":
            for item in record.config.update:
                _put(config, list(item.nested_key) or [item.key], _loads(item.value_json))
        elif kind == "history":
            row: dict[str, Any] = {}
            for item in record.history.item:
                _put(row, list(item.nested_key) or [item.key], _loads(item.value_json))
            history.append(row)
            heartbeat = max(heartbeat, float(row.get("_timestamp", 0.0)))
        elif kind == "summary":
            for item in record.summary.update:
                _put(summary, list(item.nested_key) or [item.key], _loads(item.value_json))
        elif kind == "stats":
            stamp = record.stats.timestamp.seconds + record.stats.timestamp.nanos / 1e9
            sample = {f"system.{item.key}": _loads(item.value_json) for item in record.stats.item}
            events.append({**sample, "_timestamp": stamp, "_runtime": stamp - meta.get("created_at", stamp)})
        elif kind == "environment":  # a synced run's files/wandb-metadata.json: its environment, as JSON
            environment.update(json_format.MessageToDict(record.environment))
        elif kind == "artifact":
            artifact = record.artifact
            logged.append({"name": artifact.name, "type": artifact.type, "description": artifact.description or None,
                           "metadata": artifact.metadata or None, "digest": artifact.digest,
                           "aliases": list(artifact.aliases), "files": len(artifact.manifest.contents),
                           "size": sum(entry.size for entry in artifact.manifest.contents)})
        elif kind == "metric" and not record.metric.expanded_from_glob:
            metrics.append(_metric_entry(record.metric))
        elif kind == "exit":
            state = "finished" if record.exit.exit_code == 0 else "failed"
    if metrics:
        config.setdefault("_wandb", {})["m"] = metrics
    files: dict[str, bytes] = {}
    base = os.path.join(run_folder, "files")
    for folder, _, names in os.walk(base):
        for file_name in names:
            path = os.path.join(folder, file_name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, base).replace(os.sep, "/")] = handle.read()
    if environment:
        files["wandb-metadata.json"] = json.dumps(environment).encode()
    return ServedRun(state=state, config=config, summary=summary, heartbeat_at=heartbeat or meta["created_at"],
                     history=history, events=events, files=files, logged=logged, **meta)


def _json_text(value: Any) -> str:
    return json.dumps(value)  # NaN and Infinity as W&B's JSONString fields carry them


class WandbApiEmulator:
    """An HTTP server on 127.0.0.1 answering ``wandb.Api``'s requests for ``runs`` under ``entity/project``.

    ``api_key`` is the one key it accepts (HTTP basic auth ``api:<key>``, as wandb sends it); ``requests``
    lists the operation names it answered, ``unknown`` the queries it could not.
    """

    def __init__(self, entity: str, project: str, runs: list[ServedRun], api_key: str) -> None:
        self.entity, self.project, self.runs, self.api_key = entity, project, runs, api_key
        self.requests: list[str] = []
        self.unknown: list[str] = []
        self.broken: set[str] = set()  # runs whose history the server fails to give (a GraphQL error)
        self.page_size = 1  # runs per page: a project of several runs takes several pages, as on W&B
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/sdk/"):  # wandb-core's telemetry
                    self._send(200, b"{}")
                    return
                if not emulator.authorized(self.headers.get("Authorization")):
                    self._send(401, b'{"errors": [{"message": "user is not logged in"}]}')
                    return
                try:
                    answer = emulator.answer(json.loads(body))
                except Exception as error:
                    emulator.unknown.append(f"{type(error).__name__}: {error}")
                    self._send(500, json.dumps({"errors": [{"message": str(error)}]}).encode())
                    return
                self._send(200, json.dumps(answer).encode())

            def do_GET(self) -> None:
                content = emulator.file(self.path)
                if content is None:
                    self._send(404, b"not found")
                else:
                    self._send(200, content, "application/octet-stream")

            def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WandbApiEmulator:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ----- requests ------------------------------------------------------------------------------

    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        return base64.b64decode(header[6:]).decode() == f"api:{self.api_key}"

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        query = request.get("query", "")
        variables = request.get("variables") or {}
        match = re.search(r"\b(?:query|mutation)\s+(\w+)", query)
        operation = request.get("operationName") or (match.group(1) if match else "")
        self.requests.append(operation)
        handler = getattr(self, f"op_{operation}", None)
        if handler is None:
            self.unknown.append(query)
            return {"data": None, "errors": [{"message": f"the emulator does not answer {operation or query!r}"}]}
        data: dict[str, Any] = handler(variables, query)
        return {"data": None, **data} if "errors" in data else {"data": data}

    def op_Viewer(self, _: dict[str, Any], __: str) -> dict[str, Any]:
        return {"viewer": {"id": "VXNlcjox", "entity": self.entity, "username": self.entity, "email": None,
                           "flags": None, "teams": {"edges": []}}}

    def op_GetDefaultEntity(self, _: dict[str, Any], __: str) -> dict[str, Any]:
        return {"viewer": {"id": "VXNlcjox", "entity": self.entity}}

    def _project(self, variables: dict[str, Any]) -> bool:
        return bool(variables.get("entity") == self.entity and variables.get("project") == self.project)

    def _run(self, variables: dict[str, Any]) -> ServedRun | None:
        if not self._project(variables):
            return None
        return next((r for r in self.runs if r.name == variables.get("name")), None)

    def _fields(self, run: ServedRun, query: str) -> dict[str, Any]:
        """The run's fields the query asks for (its ``LightweightRunFragment`` leaves out the heavy ones)."""
        config = {k: {"value": v, "desc": None} for k, v in run.config.items()}
        last_step = max((row.get("_step", -1) for row in run.history), default=-1)
        fields = {"id": base64.b64encode(f"Run:v1:{run.name}:{self.project}:{self.entity}".encode()).decode(),
                "projectId": 1, "name": run.name, "displayName": run.display_name, "tags": run.tags,
                "sweepName": None, "state": run.state, "group": run.group, "jobType": run.job_type, "commit": None,
                "readOnly": False, "createdAt": _iso(run.created_at), "heartbeatAt": _iso(run.heartbeat_at),
                "description": run.notes, "notes": run.notes, "config": _json_text(config),
                "summaryMetrics": _json_text(run.summary), "systemMetrics": "{}",
                "historyLineCount": len(run.history), "user": {"name": self.entity, "username": self.entity},
                "historyKeys": {"lastStep": last_step, "keys": {}}}
        if "fragment LightweightRunFragment" in query:
            for heavy in ("config", "summaryMetrics", "systemMetrics", "historyKeys"):
                del fields[heavy]
        return fields

    def op_Runs(self, variables: dict[str, Any], query: str) -> dict[str, Any]:
        if not self._project(variables):
            return {"project": None}
        start = int(variables.get("cursor") or 0)
        page = self.runs[start:start + self.page_size]
        edges = [{"node": self._fields(run, query), "cursor": str(start + n + 1)} for n, run in enumerate(page)]
        return {"project": {"internalId": "UHJvamVjdDox", "runCount": len(self.runs), "readOnly": False,
                            "runs": {"edges": edges, "pageInfo": {"endCursor": edges[-1]["cursor"] if edges else None,
                                                                  "hasNextPage": start + len(page) < len(self.runs)}}}}

    def op_Run(self, variables: dict[str, Any], query: str) -> dict[str, Any]:
        run = self._run(variables)
        return {"project": {"internalId": "UHJvamVjdDox", "run": self._fields(run, query) if run else None}}

    def op_RunHistoryKeys(self, variables: dict[str, Any], query: str) -> dict[str, Any]:
        run = self._run(variables)
        return {"project": {"run": {"historyKeys": self._fields(run, query)["historyKeys"]} if run else None}}

    def op_RunFullHistory(self, variables: dict[str, Any], query: str) -> dict[str, Any]:
        run = self._run(variables)
        self.requests.append("events" if "events(" in query else "sampled history")
        if run is None:
            return {"project": {"run": None}}
        return {"project": {"run": {"history": [_json_text(r) for r in run.history],
                                    "events": [_json_text(e) for e in run.events]}}}

    def op_RunParquetHistory(self, variables: dict[str, Any], query: str) -> dict[str, Any]:
        """What wandb-core's ``scan_history`` asks first: no exported parquet files, so it pages ``HistoryPage``."""
        run = self._run({**variables, "name": variables.get("runName")})
        if run is None:
            return {"project": {"run": None}}
        return {"project": {"run": {"parquetHistory": {"parquetUrls": [], "liveData": []}}}}

    def op_HistoryPage(self, variables: dict[str, Any], query: str) -> dict[str, Any]:
        """The rows with ``minStep <= _step < maxStep``, at most ``pageSize``, as JSON lines."""
        run = self._run({**variables, "name": variables.get("run")})
        if run is None:
            return {"project": {"run": None}}
        if run.name in self.broken:
            return {"errors": [{"message": f"history of {run.name} is unavailable"}]}
        low, high = int(variables["minStep"]), int(variables["maxStep"])
        rows = [r for r in run.history if low <= r.get("_step", -1) < high][:int(variables["pageSize"])]
        return {"project": {"run": {"history": [_json_text(r) for r in rows]}}}

    def op_ServerFeaturesQuery(self, _: dict[str, Any], __: str) -> dict[str, Any]:
        return {"serverInfo": {"features": []}}

    def _artifacts(self, run: ServedRun | None, artifacts: list[dict[str, Any]]) -> dict[str, Any]:
        """A run's artifacts as ``RunOutputArtifacts``/``RunInputArtifacts`` list them (one page: a run has few)."""
        if run is None:
            return {"project": {"run": None}}
        project = {"id": "UHJvamVjdDox", "internalId": "1", "name": self.project, "entity": {"name": self.entity}}
        versions: dict[str, int] = {}
        edges = []
        for number, artifact in enumerate(artifacts):
            version = versions[artifact["name"]] = versions.get(artifact["name"], -1) + 1
            aliases = [{"__typename": "ArtifactAlias", "id": f"QWxpYXM6{number}{n}", "alias": alias,
                        "artifactCollection": {"__typename": "ArtifactSequence", "name": artifact["name"],
                                               "project": project}}
                       for n, alias in enumerate(dict.fromkeys([*artifact["aliases"], "latest"]))]
            edges.append({"node": {
                "__typename": "Artifact", "id": base64.b64encode(f"Artifact:{run.name}:{number}".encode()).decode(),
                "artifactSequence": {"__typename": "ArtifactSequence", "name": artifact["name"], "project": project},
                "versionIndex": version, "artifactType": {"name": artifact["type"]},
                "description": artifact["description"], "metadata": artifact["metadata"], "ttlDurationSeconds": -1,
                "ttlIsInherited": True, "tags": [], "historyStep": None, "state": "COMMITTED",
                "size": artifact["size"], "digest": artifact["digest"], "digestAlgorithm": "MANIFEST_MD5",
                "commitHash": None, "fileCount": artifact["files"], "createdAt": _iso(run.heartbeat_at),
                "updatedAt": None, "aliases": aliases}})
        return {"project": {"run": {"artifacts": {"totalCount": len(edges), "edges": edges, "pageInfo": {
            "__typename": "PageInfo", "endCursor": None, "hasNextPage": False}}}}}

    def op_RunOutputArtifacts(self, variables: dict[str, Any], __: str) -> dict[str, Any]:
        run = self._run({**variables, "name": variables.get("run")})
        return self._artifacts(run, run.logged if run else [])

    def op_RunInputArtifacts(self, variables: dict[str, Any], __: str) -> dict[str, Any]:
        run = self._run({**variables, "name": variables.get("run")})
        return self._artifacts(run, run.used if run else [])

    def op_RunFiles(self, variables: dict[str, Any], query: str) -> dict[str, Any]:
        run = self._run(variables)
        if run is None:
            return {"project": {"internalId": "UHJvamVjdDox", "run": None}}
        names = sorted(n for n in run.files if not variables.get("fileNames") or n in variables["fileNames"])
        start = int(variables.get("fileCursor") or 0)
        limit = int(variables.get("fileLimit") or 50)
        page = names[start:start + limit]
        edges = [{"node": {"id": f"File:{run.name}:{name}", "name": name,
                           "url": f"{self.url}/files/{self.entity}/{self.project}/{run.name}/{name}",
                           "directUrl": f"{self.url}/files/{self.entity}/{self.project}/{run.name}/{name}",
                           "sizeBytes": len(run.files[name]), "mimetype": "application/octet-stream",
                           "updatedAt": _iso(run.heartbeat_at), "md5": base64.b64encode(
                               hashlib.md5(run.files[name]).digest()).decode()},
                  "cursor": str(start + n + 1)} for n, name in enumerate(page)]
        return {"project": {"internalId": "UHJvamVjdDox", "run": {"fileCount": len(names), "files": {
            "edges": edges, "pageInfo": {"endCursor": edges[-1]["cursor"] if edges else None,
                                         "hasNextPage": start + len(page) < len(names)}}}}}

    def file(self, path: str) -> bytes | None:
        match = re.fullmatch(r"/files/([^/]+)/([^/]+)/([^/]+)/(.+)", path)
        if match is None or match.group(1) != self.entity or match.group(2) != self.project:
            return None
        run = next((r for r in self.runs if r.name == match.group(3)), None)
        return run.files.get(match.group(4)) if run else None


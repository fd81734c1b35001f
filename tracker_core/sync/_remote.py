"""``Api(server=...)``: the local ``Api`` / ``StoredRun`` interface, answered by the team server's read API.

Paths are ``entity/project`` and ``entity/project/run_id``; the entity may be left out when
``TRACKER_ENTITY`` names it or the API key belongs to one team only. Values come encoded as in
the log (``{"$f": "nan"}`` tags) and are decoded. History is the full series, never sampled.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tracker_core._best import Best
from tracker_core._encoding import decode_tree
from tracker_core._errors import RunNotFoundError, SettingsError, TrackerError
from tracker_core._paginated import PageFetch, Runs
from tracker_core._readback import check_count, check_keys, sample_evenly
from tracker_core.api import _EDITABLE, Api, StoredArtifact, StoredRun
from tracker_core.sync._client import ServerClient, ServerError, segment

if TYPE_CHECKING:
    from tracker_core._api_sweep import StoredSweep
    from tracker_core.artifacts import ArtifactStore, ArtifactVersion

__all__ = ["LazyRemoteArtifact", "RemoteApi", "RemoteArtifact", "RemoteRun", "filter_expressions"]

_MOST_A_PAGE = 10_000
"""The most runs asked for in one request (the server takes up to 100,000)."""



def _time(value: Any) -> datetime.datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
    return None


class RemoteRun(StoredRun):
    """A run as the server holds it. ``history()`` and ``update()`` ask the server."""

    def __init__(self, api: RemoteApi, data: Mapping[str, Any]) -> None:  # no folder: not StoredRun.__init__
        self._api = api
        self._data = dict(data)
        self._meta = dict(data.get("meta") or {})
        self.id: str = str(data["id"])
        self.entity: str | None = data.get("entity")
        self.project: str = str(data["project"])
        self.name: str = data.get("name") or self.id
        self.tags: list[str] = list(data.get("tags") or [])
        self.group: str | None = data.get("group")
        self.job_type: str | None = data.get("job_type")
        self.notes: str | None = data.get("notes")
        self.config: dict[str, Any] = decode_tree(data.get("config") or {})  # type: ignore[assignment]
        self.summary: dict[str, Any] = decode_tree(data.get("summary") or {})  # type: ignore[assignment]
        self.extremes: dict[str, list[Any]] = {}
        self.exit_code: int | None = data.get("exit_code")
        self.traceback: str | None = data.get("traceback")
        self.signal: str | None = data.get("signal")
        self.preempted: bool = bool(data.get("preempted"))
        self.last_seq: int = int(data.get("last_seq") or 0)
        self.seq_gaps = 0
        self.records_not_written = 0
        self.bad_lines = 0
        self.torn_tail = False
        self.created_at: datetime.datetime | None = _time(data.get("created_at"))
        self.updated_at: datetime.datetime | None = _time(data.get("updated_at"))
        self.ended_at: datetime.datetime | None = _time(data.get("ended_at"))
        self.status: str = str(data.get("state") or "running")

    @property
    def dir(self) -> str:
        """Where the run lives: its API address on the server."""
        return self._api.client.url + self._path_url()

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def duration(self) -> float | None:
        end = self.ended_at or self.updated_at
        if self.created_at is None or end is None:
            return None
        return max(0.0, (end - self.created_at).total_seconds())

    @property
    def provenance(self) -> dict[str, Any] | None:
        found = self._meta.get("provenance")
        return found if isinstance(found, dict) else None

    def _path_url(self) -> str:
        return self._api.client.run_path(self.entity or "", self.project, self.id)

    def history(self, samples: int | None = None, keys: Sequence[str] | None = None, x_axis: str = "_step",
                pandas: bool = False, stream: str = "default", *, x: str | None = None) -> Any:
        """Every point of the run's history from the server (never sampled unless ``samples`` is given,
        as for a local run), as rows merged by the x-axis.

        Raises:
            SettingsError: a bad ``samples`` or ``keys``, or a ``stream`` other than ``"default"``.
            ServerError: the server could not answer.
            TrackerError: pandas was asked for and is not installed.
        """
        count = check_count(samples, "samples")
        keys = check_keys(keys, "history()")
        x = x if x is not None else x_axis
        if stream != "default":
            raise SettingsError("stream", f"{stream!r} is not served by the team server yet", "use 'default'")
        params: list[tuple[str, str]] = [("keys", key) for key in (keys or ())]
        params.append(("x", x))
        answer = self._api.client.call("GET", self._path_url() + "/history", "reading history", params=params)
        rows: dict[Any, dict[str, Any]] = {}
        for key, series in (answer.get("series") or {}).items():
            xs, ys = decode_tree(series.get("x") or []), decode_tree(series.get("y") or [])
            for x_value, y_value in zip(xs, ys, strict=False):  # type: ignore[call-overload]
                rows.setdefault(x_value, {x: x_value})[key] = y_value
        ordered = [rows[value] for value in sorted(rows, key=lambda v: (v is None, v))]
        if count is not None:
            ordered = sample_evenly(ordered, count)
        if not pandas:
            return ordered
        try:
            import pandas as pd  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            raise TrackerError("history(pandas=True) needs pandas\nHint: pip install pandas") from None
        return pd.DataFrame(ordered)

    def update(self, **changes: Any) -> None:
        """Edit name, notes, tags, group or job_type on the server.

        Raises:
            SettingsError: an unknown field.
            ServerError: the server refused (a viewer's key, say).
        """
        unknown = set(changes) - set(_EDITABLE)
        if unknown:
            raise SettingsError(sorted(unknown)[0], "cannot be edited", "editable: " + ", ".join(_EDITABLE))
        answer = self._api.client.call("PATCH", self._path_url(), "editing the run", json=changes)
        self.__init__(self._api, answer)  # type: ignore[misc]

    def delete(self) -> None:
        raise TrackerError("runs on the team server are not deleted through the client")

    def system_metrics(self) -> list[dict[str, Any]]:
        raise TrackerError("system metrics of a run on the server: read them with history(keys=[...])")

    def __repr__(self) -> str:
        return f"<RemoteRun {self.path} name={self.name!r} {self.status}>"


def filter_expressions(filters: Mapping[str, Any] | Sequence[str] | str | None) -> list[str]:
    """Filters as the server takes them: expressions like ``config.lr<1e-3``.

    A dict filter of plain conditions (``{"status": "finished", "config.lr": {"$lt": 1e-3}}``,
    ``$and`` of those) is turned into expressions.

    Raises:
        SettingsError: a dict filter with ``$or``, ``$in``, ``$exists`` and the like.
    """
    if filters is None:
        return []
    if isinstance(filters, str):
        return [filters]
    if not isinstance(filters, Mapping):
        return [str(text) for text in filters]
    symbols = {"$eq": "=", "$ne": "!=", "$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">=", "$regex": "~"}
    found: list[str] = []
    for field, condition in filters.items():
        if field == "$and":
            for part in condition:
                found += filter_expressions(part)
            continue
        conditions = condition if isinstance(condition, Mapping) else {"$eq": condition}
        for op, target in conditions.items():
            if op not in symbols or field.startswith("$"):
                raise SettingsError(f"filter {field!r}: {op!r}", "not available against a server",
                                    "use expressions like 'config.lr<1e-3' (= != < <= > >= ~)")
            found.append(f"{field}{symbols[op]}{_text(target)}")
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class RemoteApi(Api):
    """Read access to a team server: ``Api(server=URL)``; the key comes from ``api_key``,
    ``TRACKER_API_KEY``, or what ``tracker login`` stored for that server."""

    def __init__(self, dir: str | os.PathLike[str] | None = None, server: str | None = None,  # noqa: A002
                 api_key: str | None = None, entity: str | None = None) -> None:
        from tracker_core._settings import resolve_settings

        if server is None:
            raise SettingsError("server", "RemoteApi needs the server's URL", "pass server='http://host:8750'")
        settings = resolve_settings({"server": server, "api_key": api_key, "entity": entity})
        key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        self.client = ServerClient(str(settings.server), key)
        self.root = self.client.url
        self._entity = settings.entity
        self._teams: list[str] | None = None
        self._cache_root = os.path.abspath(os.path.expanduser(os.fspath(dir) if dir is not None else settings.dir))

    def __repr__(self) -> str:
        return f"<Api server={self.client.url}>"

    def teams(self) -> list[str]:
        """The teams of the API key (from ``/api/v1/whoami``)."""
        if self._teams is None:
            answer = self.client.whoami()
            self._teams = [str(team["name"]) for team in answer.get("teams", []) if isinstance(team, dict)]
        return self._teams

    def _entity_project(self, path: str) -> tuple[str, str]:
        entity, _, project = path.rpartition("/")
        if entity:
            return entity, project
        if self._entity:
            return self._entity, project
        teams = self.teams()
        if len(teams) == 1:
            return teams[0], project
        raise SettingsError(f"project {path!r}", "names no team and the API key has several",
                            "write entity/project, e.g. " + (f"{teams[0]}/{project}" if teams else "research/p"))

    def projects(self) -> list[str]:
        """``entity/project`` for every project of every team of the key."""
        entities = [self._entity] if self._entity else self.teams()
        found = []
        for entity in entities:
            answer = self.client.call("GET", f"/api/v1/projects/{segment(entity)}", "listing projects")
            found += [f"{entity}/{project['name']}" for project in answer.get("projects", [])]
        return sorted(found)

    def runs(self, path: str | None = None, filters: Mapping[str, Any] | Sequence[str] | None = None,
             order: str | None = None, per_page: int = 50, include_sweeps: bool = True, lazy: bool = True
             ) -> Runs:
        """The runs of ``entity/project`` (every project when None) matching ``filters``, sorted by ``order``,
        as W&B's paginated ``Runs``: one request per ``per_page`` runs, the first one now.
        ``include_sweeps`` and ``lazy`` are accepted for W&B.

        Raises:
            SettingsError: a filter the server cannot take.
            ServerError: the server refused or could not be reached.
        """
        expressions = filter_expressions(filters)
        sources = [self._runs_of(*self._entity_project(name), expressions, order)
                   for name in ([path] if path else self.projects())]
        return Runs(sources, per_page, path)

    def _runs_of(self, entity: str, project: str, expressions: list[str], order: str | None) -> PageFetch:
        path = f"/api/v1/runs/{segment(entity)}/{segment(project)}"

        def fetch(offset: int, limit: int) -> tuple[list[StoredRun], int]:
            params: list[tuple[str, Any]] = [("filters", text) for text in expressions]
            params += [("limit", min(limit, _MOST_A_PAGE)), ("offset", offset)]  # a shorter page: Runs asks again
            if order:
                params.append(("order", order))
            try:
                answer = self.client.call("GET", path, "listing runs", params=params)
            except ServerError as exc:
                if exc.status == 404:
                    raise RunNotFoundError(f"no project {entity}/{project} on {self.client.url}",
                                           "list them with Api(server=...).projects()") from None
                raise
            return [RemoteRun(self, data) for data in answer.get("runs", [])], int(answer.get("total", 0))

        return fetch

    def run(self, path: str) -> StoredRun:
        """A run by ``entity/project/id`` (or ``project/id`` with a default team).

        Raises:
            RunNotFoundError: the server has no such run (or it is another team's).
        """
        project_path, _, run_id = path.rpartition("/")
        entity, project = self._entity_project(project_path)
        try:
            data = self.client.call("GET", self.client.run_path(entity, project, run_id), "reading the run")
        except ServerError as exc:
            if exc.status == 404:
                raise RunNotFoundError(f"no run {entity}/{project}/{run_id} on {self.client.url}",
                                       "list runs with `tracker runs -p ENTITY/PROJECT`") from None
            raise
        return RemoteRun(self, data)

    def best(self, project: str | None, metric: str, goal: str = "min",
             filters: Mapping[str, Any] | Sequence[str] | None = None) -> Best | None:
        """The server's best run of ``entity/project`` on a summary metric, or None if no run has it.

        Raises:
            SettingsError: ``goal`` is not min or max; a filter the server cannot take.
            ServerError: the server refused or could not be reached.
        """
        if goal not in ("min", "max"):
            raise SettingsError("goal", f"{goal!r} is not 'min' or 'max'", "pass goal='min' or goal='max'")
        if project is None:
            raise SettingsError("project", "the server finds the best run of one project", "pass 'entity/project'")
        entity, project_name = self._entity_project(project)
        params: list[tuple[str, Any]] = [("metric", metric), ("goal", goal)]
        params += [("filters", text) for text in filter_expressions(filters)]
        answer = self.client.call("GET", f"/api/v1/best/{segment(entity)}/{segment(project_name)}",
                                  "finding the best run", params=params)
        if not answer.get("run"):
            return None
        step = answer.get("step")
        return Best(RemoteRun(self, answer["run"]), decode_tree(answer.get("value")),  # type: ignore[arg-type]
                    step if isinstance(step, int) else None, [])

    def sweep(self, path: str) -> StoredSweep:
        """A sweep on the server by ``entity/project/id`` (or ``project/id`` with a default team), with its trial
        runs (``.runs``, as ``runs()`` gives them) and ``.best_run()``; see ``StoredSweep``.

        Raises:
            SettingsError: the path names no project.
            SweepNotFoundError: the server has no such sweep (or it is another team's).
            ServerError: the server refused or could not be reached.
        """
        from tracker_core._api_sweep import StoredSweep
        from tracker_core.sweeps._errors import SweepNotFoundError
        from tracker_core.sweeps._remote import trial_row

        project_path, _, sweep_id = path.strip("/").rpartition("/")
        if not project_path or not sweep_id:
            raise SettingsError(f"sweep {path!r}", "names no project", "pass 'entity/project/SWEEP_ID'")
        entity, project = self._entity_project(project_path)
        base = f"/api/v1/sweeps/{segment(entity)}/{segment(project)}/{segment(sweep_id)}"
        try:
            data = self.client.call("GET", base, "reading the sweep")
            rows = self.client.call("GET", base + "/trials", "listing the sweep's trials")["trials"]
        except ServerError as exc:
            if exc.status == 404:
                raise SweepNotFoundError(f"{entity}/{project}/{sweep_id}", self.client.url) from None
            raise
        trials = [trial_row(sweep_id, row) for row in rows]

        def load_runs() -> list[StoredRun]:
            order = {trial.run_id: trial.number for trial in trials}
            found = {run.id: run for run in self.runs(f"{entity}/{project}", [f"group={sweep_id}"], per_page=1000)
                     if run.id in order}  # trial runs are grouped by their sweep...
            for run_id in order.keys() - found.keys():  # ...unless the training code named another group
                try:
                    found[run_id] = self.run(f"{entity}/{project}/{run_id}")
                except RunNotFoundError:
                    continue  # the trial never started its run
            return sorted(found.values(), key=lambda run: order[run.id])

        return StoredSweep(sweep_id, entity, project, data.get("name"), dict(data["config"]), str(data["state"]),
                           float(data["created_at"]), dict(data.get("counts") or {}), trials, load_runs)

    def artifact(self, ref: str) -> StoredArtifact:
        """An artifact version on the server: ``entity/project/name:vN`` (or ``:alias``, ``:latest``; the entity
        may be left out as for runs), fetched into the local store (``dir``, else TRACKER_DIR) with every file
        verified; the same ``StoredArtifact`` as locally, whose ``logged_by()``/``used_by()`` ask the server.

        Raises:
            ArtifactError: no such artifact or version on the server, or a file that arrived corrupted.
            ServerError: the server could not be reached or refused.
        """
        from tracker_core.sync._artifact_pull import pull_version, resolve_remote

        path, _, name_ref = ref.rpartition("/")
        entity, project = self._entity_project(path)
        data = resolve_remote(self.client, entity, project, name_ref)
        store = self._cache_store()
        return RemoteArtifact(self, store, pull_version(self.client, store, data), data)

    def artifacts(self, name: str | None = None) -> list[StoredArtifact]:
        """Every version of every artifact of ``entity/project`` (``name``), or of one artifact
        (``entity/project/name``), by name then version; each is fetched when its files are read.

        Raises:
            SettingsError: no project named.
            ServerError: the server could not be reached or refused (404: no such project or artifact).
        """
        if not name:
            raise SettingsError("name", "the server lists the artifacts of one project", "pass 'entity/project'")
        parts = name.split("/")
        if len(parts) >= 3:
            entity, project = self._entity_project("/".join(parts[:-1]))
            names = [parts[-1]]
        else:
            entity, project = self._entity_project(name)
            base = f"/api/v1/artifact-collections/{segment(entity)}/{segment(project)}"
            names = [c["name"] for c in self.client.call("GET", base, "listing artifacts").get("collections", [])]
        found: list[StoredArtifact] = []
        for collection in names:
            path = f"/api/v1/artifact-collections/{segment(entity)}/{segment(project)}/{segment(collection)}"
            after: int | None = -1
            while after is not None:
                listed = self.client.call("GET", path, f"listing versions of {collection}", params={"after": after})
                found += [LazyRemoteArtifact(self, data) for data in listed.get("versions", [])]
                after = listed.get("next_after")
        return found

    def _cache_store(self) -> ArtifactStore:
        from tracker_core.artifacts import ArtifactStore

        return ArtifactStore(self._cache_root)


class RemoteArtifact(StoredArtifact):
    """A server's version held in the local store: files, download, get and get_entry read the local copy
    (verified when it was fetched and again on download); lineage comes from the server."""

    def __init__(self, api: RemoteApi, store: ArtifactStore, version: ArtifactVersion, data: dict[str, Any]) -> None:
        super().__init__(store, version, os.path.dirname(store.root))
        self._api = api
        self._data = data
        self.entity: str = str(data["entity"])
        self.project: str = str(data["project"])
        self.version = int(data["version"])  # the server's number (the local copy may carry another)
        self.aliases = tuple(data.get("aliases") or ())

    @property
    def ref(self) -> str:
        return f"{self.name}:v{self.version}"

    def _runs(self, refs: list[Any]) -> list[StoredRun]:
        return [self._api.run(f"{r['entity']}/{r['project']}/{r['id']}") for r in refs if isinstance(r, dict)]

    def logged_by(self) -> StoredRun | None:
        found = self._runs([self._data.get("created_by")])
        return found[0] if found else None

    def used_by(self) -> list[StoredRun]:
        """The runs that used this version, as the server knows them now (asked again on each call)."""
        from tracker_core.sync._artifact_pull import resolve_remote

        fresh = resolve_remote(self._api.client, self.entity, self.project, self.ref)
        return self._runs(list(fresh.get("used_by") or []))

    def lineage(self, depth: int = 4) -> dict[str, Any]:
        """The server's lineage graph around this version: ``{"root", "nodes", "edges"}``."""
        path = (f"/api/v1/artifact-collections/{segment(self.entity)}/{segment(self.project)}/{segment(self.name)}"
                f"/v{self.version}/lineage")
        return dict(self._api.client.call("GET", path, "reading the lineage", params={"depth": depth}))

    def __repr__(self) -> str:
        return f"<RemoteArtifact {self.entity}/{self.project}/{self.ref} {self.type} {self.digest[:12]}>"


class LazyRemoteArtifact(RemoteArtifact):
    """A listed version: its identity from the listing; the files are fetched on first use."""

    def __init__(self, api: RemoteApi, data: dict[str, Any]) -> None:
        self._api = api
        self._data = data
        self._pulled: StoredArtifact | None = None
        self.entity, self.project = str(data["entity"]), str(data["project"])
        self.name, self.type = str(data["name"]), str(data["type"])
        self.version, self.digest = int(data["version"]), str(data["digest"])
        self.aliases = tuple(data.get("aliases") or ())
        self.description, self.metadata = data.get("description"), dict(data.get("metadata") or {})
        self.size, self.created_at = int(data["size"]), float(data["created_at"])

    def _local(self) -> StoredArtifact:
        if self._pulled is None:
            self._pulled = self._api.artifact(f"{self.entity}/{self.project}/{self.ref}")
        return self._pulled

    def files(self) -> list[dict[str, Any]]:
        return self._local().files()

    def download(self, root: str | os.PathLike[str] | None = None, allow_missing_references: bool = False) -> str:
        return self._local().download(root, allow_missing_references)

    def get_entry(self, name: str) -> Any:
        return self._local().get_entry(name)

    def get(self, name: str) -> Any:
        return self._local().get(name)

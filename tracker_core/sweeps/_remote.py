"""A sweep on the team server: the agent's controller when a server is configured (``TRACKER_SERVER`` and a
key, mode ``online``).

The server holds the sweep and its trials and hands out each trial in one transaction of its database, so
agents on any number of machines share one sweep. Each trial's run is a normal run of the agent's local
store, streamed to the server as every online run is. A server that cannot be reached (down, restarting) is
waited for: every call is retried with backoff until it answers, so the sweep goes on where it was.
"""

from __future__ import annotations

import secrets
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

from tracker_core._process import current_identity
from tracker_core.sweeps._config import SweepConfig
from tracker_core.sweeps._store import SweepRecord, TrialRow
from tracker_core.sweeps._trial import Trial
from tracker_core.sync._client import ServerClient, ServerError, segment
from tracker_core.sync._retry import retrying

__all__ = ["RemoteController", "RemoteStore", "create_remote_sweep", "list_remote_sweeps", "server_client",
           "sweep_path", "trial_row"]

_MAX_WAIT = 5.0


def trial_row(sweep_id: str, data: dict[str, Any]) -> TrialRow:
    """A trial as the server's trials route gives it."""
    return TrialRow(sweep_id, int(data["number"]), str(data["run_id"]), dict(data["params"]), str(data["state"]),
                    data.get("optuna_trial_id"), dict(data.get("agent") or {}), data.get("value"),
                    data.get("grid_index"), float(data.get("created_at") or 0.0), data.get("ended_at"))


def server_client(settings: Any) -> ServerClient:
    key = settings.api_key.get_secret_value() if settings.api_key is not None else None
    return ServerClient(str(settings.server), key)


def _retried(client: ServerClient, method: str, path: str, what: str, json: Any = None) -> Any:
    """The call, retried while the server is unreachable or failing (one line says so the first time)."""
    told: list[bool] = []

    def on_retry(error: ServerError) -> None:
        if not told:
            told.append(True)
            print(f"tracker agent: {error}; retrying until the server answers", file=sys.stderr)

    return retrying(lambda: client.call(method, path, what, json=json), time.sleep, max_wait=_MAX_WAIT,
                    on_retry=on_retry)


def _entity(client: ServerClient, entity: str | None) -> str:
    if entity:
        return entity
    from tracker_core._errors import SettingsError

    teams = [str(t["name"]) for t in client.whoami().get("teams", []) if isinstance(t, dict)]
    if len(teams) != 1:
        raise SettingsError("sweep entity", f"none given and the API key has {len(teams)} teams",
                            "pass entity='research' or set TRACKER_ENTITY")
    return teams[0]


def sweep_path(client: ServerClient, sweep_id: str, entity: str | None, project: str | None) -> tuple[str, str, str]:
    """``(entity, project, id)`` from ``entity/project/id``, ``project/id`` or ``id`` (+ the given defaults)."""
    from tracker_core._errors import SettingsError

    parts = sweep_id.strip("/").split("/")
    if len(parts) > 3 or not all(parts):
        raise SettingsError("sweep id", f"{sweep_id!r} is not ENTITY/PROJECT/SWEEP_ID", "e.g. research/p/abc123de")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return _entity(client, entity), parts[0], parts[1]
    if not project:
        raise SettingsError("sweep id", f"{sweep_id!r} names no project", "pass ENTITY/PROJECT/SWEEP_ID, or project=")
    return _entity(client, entity), project, parts[0]


def create_remote_sweep(client: ServerClient, raw: dict[str, Any], entity: str | None, project: str,
                        seed: int | None) -> str:
    """Create the sweep on the server; returns ``entity/project/id`` (what ``agent()`` takes on any machine).

    Raises:
        SweepConfigError: the server's check of the config failed (its message names the key path).
        ServerError: the server refused (e.g. it lacks Optuna for bayes or hyperband).
    """
    team = _entity(client, entity)
    answer = client.call("POST", f"/api/v1/sweeps/{segment(team)}/{segment(project)}", "creating the sweep",
                         json={"config": raw, "seed": seed})
    return f"{team}/{project}/{answer['id']}"


def list_remote_sweeps(client: ServerClient, entity: str | None, project: str) -> list[dict[str, Any]]:
    """A project's sweeps on the server, as ``tracker sweeps`` lists them; raises ServerError (404: no such project)."""
    team = _entity(client, entity)
    answer = client.call("GET", f"/api/v1/sweeps/{segment(team)}/{segment(project)}", "listing the sweeps")
    return [{"id": f"{team}/{project}/{s['id']}", "name": s["name"], "project": project, "state": s["state"],
             "method": s["method"], "trials": sum(s["counts"].values()), "counts": s["counts"]}
            for s in answer["sweeps"]]


class RemoteStore:
    """What the agent needs of a store: the local store its trial runs are written to, and the server's sweep."""

    def __init__(self, root: str, client: ServerClient, path: str) -> None:
        import os

        self.root = root
        self.folder = os.path.join(root, ".sweeps")
        self.client = client
        self._path = path

    def close(self) -> None:
        self.client.close()

    def set_state(self, sweep_id: str, state: str) -> None:
        self.client.call("PUT", self._path + "/state", f"setting sweep {sweep_id} {state}", json={"state": state})

    def counts(self, sweep_id: str) -> dict[str, int]:
        return dict(self.client.call("GET", self._path, f"reading sweep {sweep_id}")["counts"])


class RemoteController:
    """One agent's view of one server sweep (the interface of the local ``Controller``)."""

    def __init__(self, client: ServerClient, root: str, entity: str, project: str, sweep_id: str,
                 retry_crashed: bool = False) -> None:
        self.path = f"/api/v1/sweeps/{segment(entity)}/{segment(project)}/{segment(sweep_id)}"
        self.store = RemoteStore(root, client, self.path)
        self.retry_crashed = retry_crashed
        data = _retried(client, "GET", self.path, f"reading sweep {entity}/{project}/{sweep_id}")
        self.sweep = SweepRecord(sweep_id, project, entity, data.get("name"), data["config"], data["state"],
                                 int(data["seed"]), float(data["created_at"]))
        with warnings.catch_warnings():  # the deprecations were shown at sweep() time
            warnings.simplefilter("ignore")
            self.config = SweepConfig.parse(self.sweep.config)
        self.agent = dict(current_identity())

    def next_trial(self) -> Any:
        from tracker_core.sweeps._controller import Claim

        answer = _retried(self.store.client, "POST", self.path + "/claim", "claiming a trial",
                          json={"agent": self.agent, "retry_crashed": self.retry_crashed,
                                "token": secrets.token_urlsafe(16)})  # one token for every retry of this claim
        found = answer.get("trial")
        if found is None:
            return Claim(None, reason=str(answer.get("reason") or "no more trials"))
        trial = Trial(self.sweep.id, int(found["number"]), str(found["run_id"]), self.sweep.project,
                      self.sweep.entity, self.store.root, dict(found["params"]))
        return Claim(trial, found.get("optuna_trial_id"))

    def report(self, optuna_trial_id: int, value: float, iteration: int) -> bool:
        """From the trial's watcher thread: the metric's ``iteration``-th value; True if Hyperband stops the trial
        (False while the server cannot be reached: the trial goes on)."""
        connect, number = self._watch
        client = connect()
        try:
            answer = client.call("POST", f"{self.path}/trials/{number}/report", "reporting the sweep metric",
                                 json={"value": value, "iteration": iteration}, timeout=10.0)
        except ServerError:
            return False
        return bool(answer.get("stop"))

    def end_trial(self, trial: Trial, optuna_trial_id: int | None, state: str, value: float | None) -> None:
        _retried(self.store.client, "POST", f"{self.path}/trials/{trial.number}/end", f"ending trial {trial.number}",
                 json={"state": state, "value": value})

    def state(self) -> str:
        return str(_retried(self.store.client, "GET", self.path, "reading the sweep")["state"])

    def trials(self) -> list[TrialRow]:
        rows = _retried(self.store.client, "GET", self.path + "/trials", "listing the trials")["trials"]
        return [trial_row(self.sweep.id, r) for r in rows]

    def state_probe(self, number: int) -> tuple[Callable[[], str], Callable[[], None]]:
        """For a trial's watcher thread (its own connection, opened at its first use: a short trial needs
        none), called every second while the trial runs: the agent's heartbeat for the trial, answered by the
        sweep's state (``running`` while unreachable)."""
        opened: list[ServerClient] = []

        def connect() -> ServerClient:
            if not opened:
                opened.append(self.store.client.another())
            return opened[0]

        self._watch = (connect, number)  # the watcher's reports go through it too

        def probe() -> str:
            try:
                return str(connect().call("POST", f"{self.path}/trials/{number}/heartbeat", "the trial's heartbeat",
                                          timeout=5.0)["state"])
            except ServerError:
                return "running"

        def close() -> None:
            if opened:
                opened[0].close()

        return probe, close

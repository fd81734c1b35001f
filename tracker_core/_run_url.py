"""``run.url`` / ``run.get_url()`` / ``run.get_project_url()``: the run's page in the team server's web UI.

The UI's routes (``ui/src/lib/urlstate.ts``) are ``<server>/<entity>/<project>`` for a project's runs and
``<server>/<entity>/<project>/runs/<run id>`` for one run, each part percent-encoded. A run that is not
streamed to a server (offline, disabled, a non-zero rank) has no URL: None, as W&B's offline runs. The
entity is the run's own, else the one its upload chose (the key's only team), else the key's only team
asked from the server once per process (``GET /api/v1/whoami``, 5 s at most); None when it cannot be known.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from tracker_core._run import Run

__all__ = ["project_url", "run_url"]

_only_teams: dict[str, str | None] = {}
_lock = threading.Lock()


def _part(text: str) -> str:
    return quote(text, safe="")


def _entity(run: Run, server: str) -> str | None:
    if run.entity:
        return run.entity
    from tracker_core.sync._state import SyncState

    if run.dir is not None:
        saved = SyncState.load(run.dir)
        if saved is not None and saved.server.rstrip("/") == server:
            return saved.entity
    with _lock:
        if server not in _only_teams:
            _only_teams[server] = _only_team(run, server)
        return _only_teams[server]


def _only_team(run: Run, server: str) -> str | None:
    from tracker_core.sync._client import ServerClient, ServerError

    key = run.settings.api_key
    client = ServerClient(server, key.get_secret_value() if key is not None else None, timeout=5)
    try:
        teams = [team.get("name") for team in client.whoami().get("teams", []) if isinstance(team, dict)]
    except ServerError:
        return None
    finally:
        client.close()
    return str(teams[0]) if len(teams) == 1 and teams[0] else None


def project_url(run: Run) -> str | None:
    """``<server>/<entity>/<project>``, or None for a run written to the local store only."""
    server = run.settings.server
    if run.disabled or run.settings.mode != "online" or not server:
        return None
    server = server.rstrip("/")
    entity = _entity(run, server)
    return None if entity is None else f"{server}/{_part(entity)}/{_part(run.project)}"


def run_url(run: Run) -> str | None:
    """``<server>/<entity>/<project>/runs/<run id>``, or None for a run written to the local store only."""
    base = project_url(run)
    return None if base is None else f"{base}/runs/{_part(run.id)}"

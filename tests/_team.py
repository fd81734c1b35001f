"""The real team server for client tests: ``python -m tracker_server`` with one member key of team ``research``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from _server import Server, new_key

__all__ = ["TeamServer"]


class TeamServer(Server):
    """SQLite and a blob folder under ``data``; ``key`` is a member key of ``research``."""

    def __init__(self, data: Path) -> None:
        super().__init__(data)
        self.key = new_key(data, "research", "box")

    def records(self, run_id: str, project: str = "p") -> list[dict[str, Any]]:
        """Every record the server holds for the run, in seq order (empty while it is down or lacks the run)."""
        try:
            with self.client(self.key) as client:
                answer = client.get(f"/api/v1/runs/research/{project}/{run_id}/records",
                                    params={"after_seq": 0, "limit": 100_000})
        except httpx.HTTPError:
            return []
        return list(answer.json()["records"]) if answer.status_code == 200 else []

    def files(self, run_id: str, project: str = "p") -> dict[str, Any]:
        with self.client(self.key) as client:
            return dict(client.get(f"/api/v1/runs/research/{project}/{run_id}/files").json()["files"])

"""Reports on the team server, through its ``/api/v1/reports`` routes: the same methods as ``LocalReports``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tracker_core._errors import SettingsError
from tracker_core.reports._store import ReportNotFoundError, StaleRevisionError

if TYPE_CHECKING:
    from tracker_core.sync._client import ServerClient

__all__ = ["RemoteReports", "server_project"]


def server_project(client: ServerClient, project: str, entity: str | None) -> str:
    """``entity/project`` for the server: as written, else with ``entity``, else with the key's only team.

    Raises:
        SettingsError: no entity is given and the key has several teams (or none).
    """
    if "/" in project:
        return project
    if entity:
        return f"{entity}/{project}"
    teams = [str(team["name"]) for team in client.whoami().get("teams", []) if isinstance(team, dict)]
    if len(teams) != 1:
        raise SettingsError(f"report project {project!r}", "names no team and the API key has "
                            f"{'several' if teams else 'none'}", "write entity/project in the report's front matter")
    return f"{teams[0]}/{project}"


class RemoteReports:
    """The reports a team server holds for the client's key."""

    def __init__(self, client: ServerClient) -> None:
        self.client = client

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        from tracker_core.sync._client import ServerError

        try:
            return self.client.call(method, "/api/v1/reports" + path, what, **kwargs)
        except ServerError as error:
            if error.status == 404:
                raise ReportNotFoundError(str(error)) from None
            if error.status == 409 and error.code == "stale_revision":
                details = error.body.get("details", {})
                raise StaleRevisionError(int(details["current_revision"]), int(details["conflict_revision"])) from None
            raise

    def url(self, report_id: str) -> str:
        return f"{self.client.url}/reports/{report_id}"

    def reports(self, project: str | None = None) -> list[dict[str, Any]]:
        params = {"project": project} if project else None
        return list(self._call("GET", "", "listing reports", params=params)["reports"])

    def get(self, report_id: str) -> dict[str, Any]:
        from tracker_core.sync._client import segment

        return dict(self._call("GET", f"/{segment(report_id)}", f"reading report {report_id}"))

    def block_data(self, report_id: str, index: int) -> dict[str, Any]:
        """Block ``index``'s panel data (its snapshot when pinned), as the report page draws it."""
        from tracker_core.sync._client import segment

        return dict(self._call("GET", f"/{segment(report_id)}/blocks/{index}/data", f"reading report {report_id}"))

    def create(self, project: str, title: str, markdown: str, author: str = "", report_id: str | None = None
               ) -> dict[str, Any]:
        body: dict[str, Any] = {"project": project, "title": title, "markdown": markdown}
        if report_id:
            body["id"] = report_id
        return dict(self._call("POST", "", "creating a report", json=body))

    def save(self, report_id: str, base_revision: int, title: str, markdown: str, author: str = "") -> int:
        from tracker_core.sync._client import segment

        answer = self._call("PUT", f"/{segment(report_id)}", f"saving report {report_id}",
                            json={"base_revision": base_revision, "title": title, "markdown": markdown})
        return int(answer["revision"])

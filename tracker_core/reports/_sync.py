"""``tracker sync`` for reports: each local report whose current revision the server lacks becomes a new server
revision (created under the same id the first time). The server revision the last sync left is the base of
the next, so an edit made on the server meanwhile is never overwritten: the server keeps the pushed text as a
conflict revision and answers 409, and the sync says so."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from tracker_core.reports._remote import RemoteReports, server_project
from tracker_core.reports._store import LocalReports, ReportNotFoundError, StaleRevisionError

if TYPE_CHECKING:
    from tracker_core.sync._client import ServerClient

__all__ = ["sync_reports"]


def sync_reports(client: ServerClient, root: str, entity: str | None) -> Iterator[tuple[str, str, bool]]:
    """Push the store's reports; yields (report id, what happened, whether it failed) for each that needed it.

    Raises:
        ServerError: the server cannot be reached (the rest waits for the next sync).
    """
    local, remote = LocalReports(root), RemoteReports(client)
    for report_id in local.ids():
        report = local.get(report_id)
        synced = report.get("synced", {}).get(client.url)
        if synced is not None and synced["local"] == report["revision"]:
            continue
        project = server_project(client, report["project"], entity)
        try:
            if synced is None:
                try:
                    there = remote.get(report_id)
                except ReportNotFoundError:
                    created = remote.create(project, report["title"], report["markdown"], report_id=report_id)
                    local.mark_synced(report_id, client.url, report["revision"], int(created["revision"]))
                    yield report_id, f"created on the server ({project})", False
                    continue
                base = int(there["revision"]) if there["markdown"] == report["markdown"] else None
                if base is not None:
                    local.mark_synced(report_id, client.url, report["revision"], base)
                    yield report_id, "already on the server", False
                    continue
                yield report_id, "the server holds another report under this id; not sent", True
                continue
            revision = remote.save(report_id, int(synced["server"]), report["title"], report["markdown"])
            local.mark_synced(report_id, client.url, report["revision"], revision)
            yield report_id, f"sent as server revision {revision}", False
        except StaleRevisionError as error:
            yield report_id, (f"changed on the server since the last sync (it is at revision "
                              f"{error.current_revision}); this text is kept there as conflict revision "
                              f"{error.conflict_revision}: merge it there"), True

"""Where the report routes keep reports: the team server's tables (``SqlReports``), or, for ``tracker ui``,
the local store's ``.reports`` folder (``LocalStoreReports``), so a report written in the local UI is a file
of the store that scripts, ``tracker report`` and ``tracker sync`` see. Both answer like ``LocalReports``."""

from __future__ import annotations

import time
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker_core.reports._store import LocalReports, ReportNotFoundError, StaleRevisionError, new_report_id
from tracker_server._deps import Scope
from tracker_server._errors import ApiError
from tracker_server._models import ReportComment, ReportRevision, ReportRow, ReportShare

__all__ = ["LocalStoreReports", "ReportStore", "SqlReports"]

_FIELDS = ("id", "title", "project", "revision", "updated_at", "updated_by")


class ReportStore(Protocol):
    def reports(self, project: str | None = None) -> list[dict[str, Any]]: ...
    def get(self, report_id: str) -> dict[str, Any]: ...
    def create(self, project: str, title: str, markdown: str, author: str, report_id: str | None = None
               ) -> dict[str, Any]: ...
    def save(self, report_id: str, base_revision: int, title: str, markdown: str, author: str) -> int: ...
    def revisions(self, report_id: str) -> list[dict[str, Any]]: ...
    def revision(self, report_id: str, number: int) -> dict[str, Any]: ...
    def comments(self, report_id: str) -> list[dict[str, Any]]: ...
    def add_comment(self, report_id: str, block: int | None, text: str, author: str) -> dict[str, Any]: ...
    def shares(self, report_id: str) -> list[dict[str, Any]]: ...
    def add_share(self, report_id: str, token_hash: str, author: str) -> dict[str, Any]: ...
    def revoke_share(self, report_id: str, share_id: str) -> bool: ...


class SqlReports:
    """The reports of ``scope``'s team in the server's database, inside the caller's transaction ``session``."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self.session, self.scope = session, scope

    def _row(self, report_id: str, for_update: bool = False) -> ReportRow:
        query = select(ReportRow).where(ReportRow.report_id == report_id, ReportRow.team_id == self.scope.team_id)
        if for_update:
            query = query.with_for_update()
        found = self.session.scalars(query).first()
        if found is None:
            raise ReportNotFoundError(f"no such report {report_id!r}")
        return found

    def _json(self, row: ReportRow) -> dict[str, Any]:
        return {"id": row.report_id, "title": row.title, "project": f"{self.scope.team}/{row.project}",
                "revision": row.revision, "updated_at": row.updated_at, "updated_by": row.updated_by}

    def reports(self, project: str | None = None) -> list[dict[str, Any]]:
        query = select(ReportRow).where(ReportRow.team_id == self.scope.team_id)
        if project is not None:
            query = query.where(ReportRow.project == project.rpartition("/")[2])
        return [self._json(row) for row in self.session.scalars(query.order_by(ReportRow.updated_at.desc()))]

    def get(self, report_id: str) -> dict[str, Any]:
        row = self._row(report_id)
        markdown = self.session.scalar(select(ReportRevision.markdown).where(
            ReportRevision.report_pk == row.id, ReportRevision.revision == row.revision))
        return {**self._json(row), "markdown": markdown or ""}

    def create(self, project: str, title: str, markdown: str, author: str, report_id: str | None = None
               ) -> dict[str, Any]:
        report_id = report_id or new_report_id()
        if self.session.scalar(select(ReportRow.id).where(ReportRow.report_id == report_id)) is not None:
            raise ApiError(409, "report_exists", f"report id {report_id!r} is taken; leave `id` out for a new one")
        now = time.time()
        row = ReportRow(report_id=report_id, team_id=self.scope.team_id, project=project.rpartition("/")[2],
                        title=title, revision=1, created_at=now, updated_at=now, updated_by=author)
        self.session.add(row)
        self.session.flush()
        self.session.add(ReportRevision(report_pk=row.id, revision=1, author=author, created_at=now, title=title,
                                        markdown=markdown, conflict=False))
        return self._json(row)

    def _next(self, row: ReportRow) -> int:
        top = self.session.scalar(select(func.max(ReportRevision.revision)).where(ReportRevision.report_pk == row.id))
        return int(top or 0) + 1

    def save(self, report_id: str, base_revision: int, title: str, markdown: str, author: str) -> int:
        row = self._row(report_id, for_update=True)
        number, now = self._next(row), time.time()
        conflict = base_revision != row.revision
        self.session.add(ReportRevision(report_pk=row.id, revision=number, author=author, created_at=now,
                                        title=title, markdown=markdown, conflict=conflict))
        if conflict:  # kept: the route commits it, then answers 409
            raise StaleRevisionError(row.revision, number)
        row.revision, row.title, row.updated_at, row.updated_by = number, title, now, author
        return number

    def revisions(self, report_id: str) -> list[dict[str, Any]]:
        row = self._row(report_id)
        return [{"revision": r.revision, "author": r.author, "created_at": r.created_at, "title": r.title,
                 "conflict": r.conflict}
                for r in self.session.execute(select(ReportRevision.revision, ReportRevision.author,
                                                     ReportRevision.created_at, ReportRevision.title,
                                                     ReportRevision.conflict)
                                              .where(ReportRevision.report_pk == row.id)
                                              .order_by(ReportRevision.revision))]

    def revision(self, report_id: str, number: int) -> dict[str, Any]:
        row = self._row(report_id)
        found = self.session.get(ReportRevision, (row.id, number))
        if found is None:
            raise ReportNotFoundError(f"report {report_id!r} has no revision {number}")
        return {"revision": found.revision, "author": found.author, "created_at": found.created_at,
                "title": found.title, "conflict": found.conflict, "markdown": found.markdown}

    def comments(self, report_id: str) -> list[dict[str, Any]]:
        row = self._row(report_id)
        return [{"id": c.id, "block": c.block, "author": c.author, "created_at": c.created_at, "text": c.text}
                for c in self.session.scalars(select(ReportComment).where(ReportComment.report_pk == row.id)
                                              .order_by(ReportComment.id))]

    def add_comment(self, report_id: str, block: int | None, text: str, author: str) -> dict[str, Any]:
        row = self._row(report_id)
        comment = ReportComment(report_pk=row.id, block=block, author=author, created_at=time.time(), text=text)
        self.session.add(comment)
        self.session.flush()
        return {"id": comment.id, "block": block, "author": author, "created_at": comment.created_at, "text": text}

    def shares(self, report_id: str) -> list[dict[str, Any]]:
        row = self._row(report_id)
        return [{"id": s.token_hash[:16], "created_at": s.created_at, "created_by": s.created_by}
                for s in self.session.scalars(select(ReportShare).where(ReportShare.report_pk == row.id,
                                                                       ReportShare.revoked_at.is_(None))
                                              .order_by(ReportShare.id))]

    def add_share(self, report_id: str, token_hash: str, author: str) -> dict[str, Any]:
        row = self._row(report_id)
        share = ReportShare(report_pk=row.id, token_hash=token_hash, created_at=time.time(), created_by=author)
        self.session.add(share)
        return {"id": token_hash[:16], "created_at": share.created_at, "created_by": author}

    def revoke_share(self, report_id: str, share_id: str) -> bool:
        row = self._row(report_id)
        found = self.session.scalars(select(ReportShare).where(
            ReportShare.report_pk == row.id, ReportShare.revoked_at.is_(None),
            ReportShare.token_hash.startswith(share_id, autoescape=True))).all()
        hits = [share for share in found if share.token_hash[:16] == share_id]
        for share in hits:
            share.revoked_at = time.time()
        return bool(hits)


def shared_report(session: Session, token_hash: str) -> tuple[str, int] | None:
    """(report id, team id) of the report a live share token opens, else None."""
    row = session.execute(select(ReportRow.report_id, ReportRow.team_id)
                          .join(ReportShare, ReportShare.report_pk == ReportRow.id)
                          .where(ReportShare.token_hash == token_hash, ReportShare.revoked_at.is_(None))).first()
    return (row[0], row[1]) if row else None


class LocalStoreReports:
    """The local store's reports as the local UI's team (``scope``) sees them: projects as ``team/project``."""

    def __init__(self, store: LocalReports, scope: Scope) -> None:
        self.store, self.scope = store, scope

    def _out(self, report: dict[str, Any]) -> dict[str, Any]:
        project = str(report["project"])
        return {**report, "project": project if "/" in project else f"{self.scope.team}/{project}"}

    def reports(self, project: str | None = None) -> list[dict[str, Any]]:
        return [self._out(r) for r in self.store.reports(project)]

    def get(self, report_id: str) -> dict[str, Any]:
        found = self._out(self.store.get(report_id))
        return {key: found[key] for key in (*_FIELDS, "markdown")}

    def create(self, project: str, title: str, markdown: str, author: str, report_id: str | None = None
               ) -> dict[str, Any]:
        name = project.rpartition("/")[2] if project.startswith(f"{self.scope.team}/") else project
        if report_id is not None and report_id in self.store.ids():
            raise ApiError(409, "report_exists", f"report id {report_id!r} is taken; leave `id` out for a new one")
        created = self._out(self.store.create(name, title, markdown, author, report_id))
        return {key: created[key] for key in _FIELDS}

    def save(self, report_id: str, base_revision: int, title: str, markdown: str, author: str) -> int:
        return self.store.save(report_id, base_revision, title, markdown, author)

    def revisions(self, report_id: str) -> list[dict[str, Any]]:
        return self.store.revisions(report_id)

    def revision(self, report_id: str, number: int) -> dict[str, Any]:
        return self.store.revision(report_id, number)

    def comments(self, report_id: str) -> list[dict[str, Any]]:
        return self.store.comments(report_id)

    def add_comment(self, report_id: str, block: int | None, text: str, author: str) -> dict[str, Any]:
        return self.store.add_comment(report_id, block, text, author)

    def shares(self, report_id: str) -> list[dict[str, Any]]:
        return [{key: s[key] for key in ("id", "created_at", "created_by")} for s in self.store.shares(report_id)]

    def add_share(self, report_id: str, token_hash: str, author: str) -> dict[str, Any]:
        share = self.store.add_share(report_id, token_hash, author)
        return {key: share[key] for key in ("id", "created_at", "created_by")}

    def revoke_share(self, report_id: str, share_id: str) -> bool:
        return self.store.revoke_share(report_id, share_id)

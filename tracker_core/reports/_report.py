"""``Report``: a report built in Python (or read from a file), saved to the team server when one is configured
(online mode, as ``init`` decides), else to the local store."""

from __future__ import annotations

import getpass
import os
from typing import Any

from tracker_core.reports._blocks import Block, Panel, block_from_json
from tracker_core.reports._format import Document, ReportFormatError, parse, serialize
from tracker_core.reports._remote import RemoteReports, server_project
from tracker_core.reports._store import LocalReports

__all__ = ["Report", "author", "backend", "report_url"]


def author() -> str:
    """Who saves, in the local store: the login name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or "local"


def backend(dir: str | os.PathLike[str] | None = None, server: str | None = None,  # noqa: A002
            api_key: str | None = None) -> tuple[LocalReports | RemoteReports, Any]:
    """Where reports go: the team server when one is configured and the mode is online, else the local store;
    with the resolved settings."""
    from tracker_core._settings import resolve_settings

    settings = resolve_settings({"dir": os.fspath(dir) if dir is not None else None, "server": server,
                                 "api_key": api_key})
    if settings.server and settings.mode == "online":
        from tracker_core.sync._client import ServerClient

        key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        return RemoteReports(ServerClient(str(settings.server), key)), settings
    return LocalReports(os.path.abspath(os.path.expanduser(settings.dir))), settings


def report_url(store: LocalReports | RemoteReports, report_id: str) -> str:
    """The report's page on the team server, or its file in the local store."""
    if isinstance(store, RemoteReports):
        return store.url(report_id)
    return "file://" + os.path.join(store.folder, report_id, "report.md")


class Report:
    """A report: ``title``, ``project`` and ``blocks`` (``Markdown`` and panels such as ``LinePlot``).

    ``save()`` stores a new revision (the first creates the report and sets ``id``), ``url`` links to it and
    ``Report.load(id)`` reads one back. ``dir``, ``server`` and ``api_key`` choose the store as ``init`` does.
    """

    def __init__(self, project: str, title: str, blocks: list[Block] | None = None, *, id: str | None = None,  # noqa: A002
                 dir: str | os.PathLike[str] | None = None, server: str | None = None,  # noqa: A002
                 api_key: str | None = None) -> None:
        self.project, self.title = project, title
        self.blocks: list[Block] = list(blocks or [])
        self.id, self.revision = id, None if id is None else 0
        self._where = (dir, server, api_key)
        self._front: dict[str, Any] = {}
        self._front_source: str | None = None
        self._url: str | None = None

    @classmethod
    def from_markdown(cls, text: str, **where: Any) -> Report:
        """The report a file's text describes (front matter ``title`` and ``project``).

        Raises:
            ReportFormatError: the text cannot be parsed, or names no title or project.
        """
        document = parse(text)
        title, project = document.front.get("title"), document.front.get("project")
        if not isinstance(title, str) or not isinstance(project, str):
            raise ReportFormatError(1, "the front matter needs `title:` and `project:` (text)")
        report = cls(project, title, [block_from_json(block) for block in document.blocks], **where)
        report._front, report._front_source = dict(document.front), document.front_source
        return report

    @property
    def markdown(self) -> str:
        """The report as its file's text (front matter, Markdown and ```panel blocks)."""
        front = {**self._front, "title": self.title, "project": self.project}
        return serialize(Document(front, [block.to_json() for block in self.blocks], self._front_source))

    @property
    def panels(self) -> list[Panel]:
        return [block for block in self.blocks if isinstance(block, Panel)]

    @property
    def url(self) -> str | None:
        """Where the saved report is: its page on the team server, or its file in the local store."""
        return self._url

    def save(self) -> Report:
        """Store the report as a new revision.

        Raises:
            StaleRevisionError: someone saved it since this object read it (the text is kept as a conflict
                revision; load it again and redo the change).
            ServerError: the server refused or could not be reached.
        """
        store, settings = backend(*self._where)
        try:
            if isinstance(store, RemoteReports):
                self.project = server_project(store.client, self.project, settings.entity)
            if self.id is None or self.revision == 0:
                created = store.create(self.project, self.title, self.markdown, author(), self.id)
                self.id, self.revision = str(created["id"]), int(created["revision"])
            else:
                assert self.revision is not None
                self.revision = store.save(self.id, self.revision, self.title, self.markdown, author())
            self._url = report_url(store, self.id)
        finally:
            if isinstance(store, RemoteReports):
                store.client.close()
        return self

    @classmethod
    def load(cls, id: str, *, dir: str | os.PathLike[str] | None = None, server: str | None = None,  # noqa: A002
             api_key: str | None = None) -> Report:
        """The report's current revision.

        Raises:
            ReportNotFoundError: no such report where the settings point.
        """
        store, _ = backend(dir, server, api_key)
        try:
            found = store.get(id)
        finally:
            if isinstance(store, RemoteReports):
                store.client.close()
        report = cls.from_markdown(found["markdown"], dir=dir, server=server, api_key=api_key) \
            if _has_front(found["markdown"]) else cls(found["project"], found["title"],
                                                      [block_from_json(b) for b in parse(found["markdown"]).blocks],
                                                      dir=dir, server=server, api_key=api_key)
        report.title, report.project = found["title"], found["project"]
        report.id, report.revision = id, int(found["revision"])
        report._url = report_url(store, id)
        return report

    def __repr__(self) -> str:
        return f"<Report {self.id or '(unsaved)'} {self.title!r} in {self.project}, {len(self.blocks)} blocks>"


def _has_front(text: str) -> bool:
    document = parse(text)
    return isinstance(document.front.get("title"), str) and isinstance(document.front.get("project"), str)


"""Reports in a local store: ``<store>/.reports/<id>/``, plain files a person can read.

- ``report.md``: the current text, exactly as saved;
- ``report.json``: id, project, title, current revision, who saved it and when, and ``synced`` (the server
  revision each server last took from ``tracker sync``);
- ``revisions.jsonl``: one line per revision (number, author, time, title, whether it is a refused
  conflicting save) and ``revisions/<n>.md`` its full text;
- ``comments.jsonl`` (one comment a line) and ``shares.json`` (share links: a sha256 of each token, never the
  token).

Every change happens under an exclusive ``flock`` of ``<store>/.reports/.lock`` and writes whole files by
rename, so two processes (a script's ``Report.save()`` and the local UI) never interleave half-written state.
The same methods (and answers) as the team server's report table, so the server's report routes run over it
for ``tracker ui``.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from tracker_core._errors import TrackerError

__all__ = ["REPORT_ID", "LocalReports", "ReportNotFoundError", "StaleRevisionError", "new_report_id"]

REPORT_ID = re.compile(r"^[a-z0-9]{6,32}$")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_report_id() -> str:
    """A random id: ``r`` and 11 lowercase letters or digits (about 57 bits)."""
    return "r" + "".join(secrets.choice(_ALPHABET) for _ in range(11))


class ReportNotFoundError(TrackerError):
    """No such report (or one of another team)."""


class StaleRevisionError(TrackerError):
    """A save based on an old revision: it was kept as ``conflict_revision``; the report is at ``current_revision``."""

    def __init__(self, current_revision: int, conflict_revision: int) -> None:
        self.current_revision, self.conflict_revision = current_revision, conflict_revision
        super().__init__(f"the report was changed meanwhile (it is at revision {current_revision}); your text was "
                         f"kept as conflict revision {conflict_revision}")


def _write(path: str, data: bytes) -> None:
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _append(path: str, value: Any) -> None:
    with open(path, "ab") as handle:
        handle.write(orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE))
        handle.flush()
        os.fsync(handle.fileno())


def _lines(path: str) -> list[dict[str, Any]]:
    try:
        with open(path, "rb") as handle:
            return [orjson.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []


class LocalReports:
    """The reports of the local store at ``root``."""

    def __init__(self, root: str) -> None:
        self.folder = os.path.join(os.path.abspath(os.path.expanduser(root)), ".reports")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        os.makedirs(self.folder, exist_ok=True)
        fd = os.open(os.path.join(self.folder, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _dir(self, report_id: str) -> str:
        if not REPORT_ID.match(report_id):
            raise ReportNotFoundError(f"no such report {report_id!r}")
        return os.path.join(self.folder, report_id)

    def _meta(self, report_id: str) -> dict[str, Any]:
        try:
            with open(os.path.join(self._dir(report_id), "report.json"), "rb") as handle:
                meta: dict[str, Any] = orjson.loads(handle.read())
                return meta
        except FileNotFoundError:
            raise ReportNotFoundError(f"no such report {report_id!r}") from None

    def ids(self) -> list[str]:
        try:
            return sorted(name for name in os.listdir(self.folder) if REPORT_ID.match(name)
                          and os.path.isfile(os.path.join(self.folder, name, "report.json")))
        except FileNotFoundError:
            return []

    def reports(self, project: str | None = None) -> list[dict[str, Any]]:
        """Every report (of ``project`` when given), latest change first: id, title, project, revision, updated_*."""
        found = [self._meta(report_id) for report_id in self.ids()]
        if project is not None:
            found = [meta for meta in found if same_project(meta["project"], project)]
        found.sort(key=lambda meta: -float(meta["updated_at"]))
        return [{key: meta[key] for key in ("id", "title", "project", "revision", "updated_at", "updated_by")}
                for meta in found]

    def get(self, report_id: str) -> dict[str, Any]:
        """The report's fields and ``markdown`` (its current text); raises ReportNotFoundError."""
        meta = self._meta(report_id)
        with open(os.path.join(self._dir(report_id), "report.md"), "rb") as handle:
            return {**meta, "markdown": handle.read().decode()}

    def create(self, project: str, title: str, markdown: str, author: str, report_id: str | None = None
               ) -> dict[str, Any]:
        """A new report at revision 1.

        Raises:
            TrackerError: ``report_id`` is taken or not of the id form.
        """
        with self._locked():
            report_id = report_id or new_report_id()
            folder = self._dir(report_id)
            if os.path.exists(os.path.join(folder, "report.json")):
                raise TrackerError(f"report {report_id!r} exists already")
            os.makedirs(os.path.join(folder, "revisions"), exist_ok=True)
            now = time.time()
            meta = {"id": report_id, "project": project, "title": title, "revision": 0, "created_at": now,
                    "updated_at": now, "updated_by": author, "synced": {}}
            self._add_revision(folder, meta, title, markdown, author, conflict=False)
            return meta

    def _add_revision(self, folder: str, meta: dict[str, Any], title: str, markdown: str, author: str,
                      conflict: bool) -> int:
        number = len(_lines(os.path.join(folder, "revisions.jsonl"))) + 1
        now = time.time()
        _write(os.path.join(folder, "revisions", f"{number}.md"), markdown.encode())
        _append(os.path.join(folder, "revisions.jsonl"), {"revision": number, "author": author, "created_at": now,
                                                          "title": title, "conflict": conflict})
        if not conflict:
            meta.update(revision=number, title=title, updated_at=now, updated_by=author)
            _write(os.path.join(folder, "report.md"), markdown.encode())
            _write(os.path.join(folder, "report.json"), orjson.dumps(meta))
        return number

    def save(self, report_id: str, base_revision: int, title: str, markdown: str, author: str) -> int:
        """A new revision on top of ``base_revision``; returns its number.

        Raises:
            StaleRevisionError: the report is past ``base_revision`` (the text is kept as a conflict revision).
            ReportNotFoundError: no such report.
        """
        with self._locked():
            meta = self._meta(report_id)
            folder = self._dir(report_id)
            if base_revision != meta["revision"]:
                conflict = self._add_revision(folder, meta, title, markdown, author, conflict=True)
                raise StaleRevisionError(meta["revision"], conflict)
            return self._add_revision(folder, meta, title, markdown, author, conflict=False)

    def revisions(self, report_id: str) -> list[dict[str, Any]]:
        self._meta(report_id)
        return _lines(os.path.join(self._dir(report_id), "revisions.jsonl"))

    def revision(self, report_id: str, number: int) -> dict[str, Any]:
        """One revision with its ``markdown``; raises ReportNotFoundError."""
        found = [r for r in self.revisions(report_id) if r["revision"] == number]
        if not found:
            raise ReportNotFoundError(f"report {report_id!r} has no revision {number}")
        with open(os.path.join(self._dir(report_id), "revisions", f"{number}.md"), "rb") as handle:
            return {**found[0], "markdown": handle.read().decode()}

    def comments(self, report_id: str) -> list[dict[str, Any]]:
        self._meta(report_id)
        return _lines(os.path.join(self._dir(report_id), "comments.jsonl"))

    def add_comment(self, report_id: str, block: int | None, text: str, author: str) -> dict[str, Any]:
        with self._locked():
            self._meta(report_id)
            path = os.path.join(self._dir(report_id), "comments.jsonl")
            comment = {"id": len(_lines(path)) + 1, "block": block, "author": author, "created_at": time.time(),
                       "text": text}
            _append(path, comment)
            return comment

    def _shares(self, report_id: str) -> list[dict[str, Any]]:
        try:
            with open(os.path.join(self._dir(report_id), "shares.json"), "rb") as handle:
                shares: list[dict[str, Any]] = orjson.loads(handle.read())
                return shares
        except FileNotFoundError:
            return []

    def shares(self, report_id: str) -> list[dict[str, Any]]:
        """The report's share links that are not revoked (``id`` names one; the token is not kept)."""
        self._meta(report_id)
        return [share for share in self._shares(report_id) if share.get("revoked_at") is None]

    def add_share(self, report_id: str, token_hash: str, author: str) -> dict[str, Any]:
        with self._locked():
            self._meta(report_id)
            shares = self._shares(report_id)
            share = {"id": token_hash[:16], "token_hash": token_hash, "created_at": time.time(), "created_by": author,
                     "revoked_at": None}
            _write(os.path.join(self._dir(report_id), "shares.json"), orjson.dumps([*shares, share]))
            return share

    def revoke_share(self, report_id: str, share_id: str) -> bool:
        """Revoke the share ``share_id`` names; False when the report has no such live share."""
        with self._locked():
            self._meta(report_id)
            shares = self._shares(report_id)
            hit = [s for s in shares if s["id"] == share_id and s.get("revoked_at") is None]
            if not hit:
                return False
            hit[0]["revoked_at"] = time.time()
            _write(os.path.join(self._dir(report_id), "shares.json"), orjson.dumps(shares))
            return True

    def shared(self, token_hash: str) -> str | None:
        """The id of the report a live share with this token hash opens, else None."""
        for report_id in self.ids():
            if any(s["token_hash"] == token_hash and s.get("revoked_at") is None for s in self._shares(report_id)):
                return report_id
        return None

    def mark_synced(self, report_id: str, server: str, local_revision: int, server_revision: int) -> None:
        """Remember that ``server`` holds ``local_revision``'s text as its ``server_revision`` (``tracker sync``)."""
        with self._locked():
            meta = self._meta(report_id)
            meta.setdefault("synced", {})[server] = {"local": local_revision, "server": server_revision}
            _write(os.path.join(self._dir(report_id), "report.json"), orjson.dumps(meta))


def same_project(stored: str, asked: str) -> bool:
    """Whether a local report's project (``name`` or ``entity/name``) is the one asked for (either form)."""
    return stored == asked or (stored.rpartition("/")[2] == asked.rpartition("/")[2] and (
        "/" not in stored or "/" not in asked))

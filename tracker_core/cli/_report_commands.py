"""``tracker report push|pull|list|model-card``: reports as files, on the team server when one is configured
(online mode), else in the local store.

``push FILE.md`` stores the file's text exactly (``pull`` gives the same bytes back): a new report, or a new
revision of the one named by ``--id`` or the front matter's ``id:``; a save on a stale ``--base-revision`` is
refused and the text kept on the server as a conflict revision.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tracker_core._errors import SettingsError, TrackerError
from tracker_core.cli._format import emit_json, print_rows, value_text

__all__ = ["add_report_commands", "report"]


def add_report_commands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    """The ``report`` actions, as subcommands of ``parser`` (others, e.g. ``export``, can join them)."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser("push", help="store a report file (a new report, or a new revision of its id)")
    p.add_argument("file", metavar="FILE.md")
    p.add_argument("--id", help="the report to save a revision of (default: the front matter's id:, else new)")
    p.add_argument("--base-revision", type=int, help="the revision the file was pulled at: a save on top of a "
                   "newer one is refused (the text is kept as a conflict revision)")
    p = actions.add_parser("pull", help="a report's current text, byte for byte")
    p.add_argument("id", metavar="ID")
    p.add_argument("--output", "-o", help="file to write (default: standard output)")
    p = actions.add_parser("list", help="the reports of a project")
    p.add_argument("--project", "-p", help="ENTITY/PROJECT (a local store: PROJECT); default: every report")
    p = actions.add_parser("model-card", help="draft a report from an artifact's lineage: its run, config, "
                           "metrics, upstream data, and sections for intended use and limitations")
    p.add_argument("ref", metavar="ARTIFACT:vN", help="[ENTITY/PROJECT/]NAME:vN (or :alias)")
    p.add_argument("--project", "-p", help="the artifact's project (default: the ref's, else the configured one)")
    p.add_argument("--output", "-o", help="also write the report's text to this file")
    for action in ("push", "list", "model-card"):
        actions.choices[action].add_argument("--json", action="store_true", help="machine-readable output")
    return actions




def report(_: object, args: argparse.Namespace) -> int:
    """Run ``tracker report ACTION``."""
    from tracker_core.reports._remote import RemoteReports
    from tracker_core.reports._report import backend

    store, settings = backend(args.dir)
    try:
        handler = {"push": _push, "pull": _pull, "list": _list, "model-card": _model_card}[args.action]
        return handler(store, settings, args)
    finally:
        if isinstance(store, RemoteReports):
            store.client.close()


def _link(store: Any, report_id: str) -> str:
    from tracker_core.reports._report import report_url

    return report_url(store, report_id)


def _push(store: Any, settings: Any, args: argparse.Namespace) -> int:
    from tracker_core.reports._format import ReportFormatError, parse
    from tracker_core.reports._remote import RemoteReports, server_project
    from tracker_core.reports._report import author
    from tracker_core.reports._store import ReportNotFoundError

    try:
        with open(args.file, encoding="utf-8", newline="") as handle:
            text = handle.read()
    except OSError as error:
        raise TrackerError(f"cannot read {args.file}: {error.strerror}") from None
    try:
        front = parse(text).front
    except ReportFormatError as error:
        raise TrackerError(f"{args.file}: {error}") from None
    title, project = front.get("title"), front.get("project")
    if not isinstance(title, str) or not isinstance(project, str):
        raise SettingsError(args.file, "the front matter needs `title:` and `project:`",
                            "begin the file with ---, title: ..., project: ..., ---")
    if isinstance(store, RemoteReports):
        project = server_project(store.client, project, settings.entity)
    report_id = args.id or (front.get("id") if isinstance(front.get("id"), str) else None)
    try:
        current = store.get(report_id) if report_id else None
    except ReportNotFoundError:
        current = None
    if current is None:
        created = store.create(project, title, text, author(), report_id)
        report_id, revision, what = str(created["id"]), int(created["revision"]), "created"
    elif current["markdown"] == text:
        revision, what = int(current["revision"]), "unchanged at"
    else:
        base = args.base_revision if args.base_revision is not None else int(current["revision"])
        revision, what = store.save(report_id, base, title, text, author()), "saved"
    assert report_id is not None
    if args.json:
        emit_json({"id": report_id, "revision": revision, "url": _link(store, report_id)})
    else:
        print(f"tracker: report {report_id} {what} revision {revision}: {_link(store, report_id)}", file=sys.stderr)
        print(report_id)
    return 0


def _pull(store: Any, settings: Any, args: argparse.Namespace) -> int:
    found = store.get(args.id)
    data = str(found["markdown"]).encode()
    if args.output:
        with open(args.output, "wb") as handle:
            handle.write(data)
        print(f"tracker: wrote report {args.id} revision {found['revision']} to {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


def _list(store: Any, settings: Any, args: argparse.Namespace) -> int:
    from tracker_core.reports._remote import RemoteReports, server_project

    project = args.project
    if project and isinstance(store, RemoteReports):
        project = server_project(store.client, project, settings.entity)
    return print_rows(store.reports(project), args.json, "reports", ["report", "title", "project", "revision",
                                                                      "updated by"],
                      lambda r: [r["id"], value_text(r["title"]), r["project"], str(r["revision"]), r["updated_by"]])


def _model_card(store: Any, settings: Any, args: argparse.Namespace) -> int:
    from tracker_core.reports._model_card import draft_model_card, local_facts, server_facts
    from tracker_core.reports._remote import RemoteReports, server_project

    if isinstance(store, RemoteReports):
        path, _, name_ref = args.ref.rpartition("/")
        named = path or args.project or settings.project
        if not named:
            raise SettingsError("model-card", "names no project", "pass -p ENTITY/PROJECT or ENTITY/PROJECT/NAME:vN")
        entity, _, project = server_project(store.client, named, settings.entity).partition("/")
        facts = server_facts(store.client, entity, project, name_ref)
    else:
        facts = local_facts(args.dir, args.ref, args.project)
    card = draft_model_card(facts, dir=args.dir).save()
    if args.output:
        with open(args.output, "wb") as handle:
            handle.write(card.markdown.encode())
    assert card.id is not None
    if args.json:
        emit_json({"id": card.id, "revision": card.revision, "url": card.url})
    else:
        print(f"tracker: drafted model card {card.id} for {facts.ref}: {card.url}", file=sys.stderr)
        print(card.id)
    return 0

"""``tracker report export ID --format html|pdf|md``: a report of the team server as a file to read without it
(HTML with inline SVG charts, a PDF printed by headless Chromium, or its Markdown), with each chart as an SVG
for a LaTeX figure and the CSV of its data."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

__all__ = ["export", "register"]


def register(sub: Any) -> None:
    """Add ``export`` under the ``report`` command of ``sub`` (the ``tracker`` subparsers), making ``report``
    when no other module did."""
    report = sub.choices.get("report")
    if report is None:
        report = sub.add_parser("report", help="reports on the team server", description="reports on the team server")
    actions = next((a for a in report._actions if isinstance(a, argparse._SubParsersAction)), None)
    if actions is None:
        actions = report.add_subparsers(dest="report_command", required=True, metavar="ACTION")
    help_text = ("export a report: self-contained HTML (charts as SVG), PDF, or its Markdown with each chart as "
                 "SVG and CSV")
    p = actions.add_parser("export", help=help_text, description=help_text)
    p.add_argument("report_id", metavar="ID")
    p.add_argument("--format", choices=["html", "pdf", "md"], default="html")
    p.add_argument("--output", "-o", help="file to write (default: the report's title, e.g. weekly-best-runs.html)")
    p.add_argument("--figures", help="also write each chart's SVG and CSV into this folder (md: always, default "
                   "<output>_figures)")
    p.add_argument("--figure-pdf", action="store_true", help="also each chart as a PDF of the figure's size "
                   "(printed by headless Chromium)")
    p.add_argument("--server", help="the server (default: TRACKER_SERVER, else the one `tracker login` stored)")
    p.set_defaults(handler=export, local_only=True)


def export(_: object, args: argparse.Namespace) -> int:
    """Read the report and its panels' data from the server and write the export; prints the files written."""
    from tracker_core.cli._server_commands import server_settings
    from tracker_core.reports._export import export_report, fetch_bundle
    from tracker_core.sync._client import ServerClient

    url, key = server_settings(args.server)
    client = ServerClient(url, key, timeout=60.0)
    try:
        bundle = fetch_bundle(client, args.report_id)
    finally:
        client.close()
    title = str(bundle.report.get("title") or args.report_id)
    output = args.output or (re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower() or "report") + "." + args.format
    for path in export_report(bundle, args.format, output, figures=args.figures, figure_pdf=args.figure_pdf):
        print(path)
    print(f"tracker: exported report {args.report_id} ({title}) as {args.format}", file=sys.stderr)
    return 0

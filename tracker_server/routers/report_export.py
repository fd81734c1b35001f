"""The report page's export button: the report and its panels' data, as the page holds them, rendered to a
self-contained HTML file or a PDF (headless Chromium) by ``tracker_core.reports._export``.

The route renders only what the caller sends (a signed-in browser sends what it was allowed to read), so it
reads nothing from the database; it is authenticated like every route (and CSRF-checked for a session)."""

from __future__ import annotations

import threading
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tracker_server._body import read_body
from tracker_server._deps import identity
from tracker_server._errors import ApiError
from tracker_server._identity import Identity

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["reports"])
_LIMIT = 64 * 1024 * 1024  # a report's payloads with its inlined images
_PRINTING = threading.BoundedSemaphore(2)  # headless Chromium processes printing at once, per server process


def _bundle(body: bytes) -> Any:
    from tracker_core.reports._export import ReportBundle

    try:
        sent = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_json", "the body is not JSON: {report, data, images?}") from None
    if not isinstance(sent, dict) or not isinstance(sent.get("report"), dict) or not isinstance(sent.get("data"), list):
        raise ApiError(400, "bad_request", "the body needs report (the report object) and data (each block's payload)")
    images = sent.get("images") or {}
    if not isinstance(images, dict) or not all(isinstance(v, str) for v in images.values()):
        raise ApiError(400, "bad_request", "images maps an image URL to its data: URI")
    data = [d if isinstance(d, dict) else None for d in sent["data"]]
    return ReportBundle(sent["report"], data, {str(k): v for k, v in images.items()})


def _pdf(document: str) -> bytes:
    import tempfile
    from pathlib import Path

    from tracker_core.reports._export import ExportError, print_pdf

    with tempfile.TemporaryDirectory(prefix="tracker-report-") as folder:
        path = Path(folder) / "report.pdf"
        try:
            with _PRINTING:
                print_pdf(document, path)
        except ExportError as exc:
            raise ApiError(503, "export_unavailable", str(exc).replace("\n", " ")) from None
        return path.read_bytes()


@router.post("/report-export")
async def export(request: Request, caller: Annotated[Identity, Depends(identity)],
                 kind: Annotated[str, Query(alias="format")] = "html") -> Response:
    """``?format=html|pdf``: the file, as an attachment named after the report's title."""
    from tracker_core.reports._export import ExportError, render_html

    if kind not in ("html", "pdf"):
        raise ApiError(400, "bad_format", f"format {kind!r} is not html or pdf (the page saves Markdown itself)")
    bundle = _bundle(await read_body(request, _LIMIT))
    try:
        document = render_html(bundle)
    except ExportError as exc:
        raise ApiError(503, "export_unavailable", str(exc).replace("\n", " ")) from None
    name = "".join(c if c.isalnum() else "-" for c in str(bundle.report.get("title") or "report")).strip("-")[:60]
    disposition = {"Content-Disposition": f'attachment; filename="{name.lower() or "report"}.{kind}"'}
    if kind == "html":
        return Response(document, media_type="text/html; charset=utf-8", headers=disposition)
    return Response(await run_in_threadpool(_pdf, document), media_type="application/pdf", headers=disposition)

"""Export a report for reading without the server: self-contained HTML (each chart as inline SVG drawn by
``_charts`` from its panel's data payload, Markdown sanitised, images inlined as data URIs), PDF printed from that
HTML by headless Chromium, and each chart as an SVG (or PDF) sized for a LaTeX figure with the CSV of its data.

Nothing here talks to a database: the report and its panels' payloads come from the server's report routes
(``fetch_bundle``) or are handed in (``ReportBundle``). markdown-it-py renders Markdown with raw HTML off (a tag
in the text stays text) and only http(s), mailto and relative links; math becomes MathML (``_math``), which
Chromium typesets in the PDF; Playwright is imported only for PDF.
"""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker_core._errors import TrackerError
from tracker_core.reports._charts import (
    FIGURE_WIDTH_IN,
    best_of,
    chart_svg,
    columns_of,
    field_of,
    group_name,
    grouped_rows,
    panel_csv,
    text_of,
)
from tracker_core.reports._math import tex_html

__all__ = ["CHROMIUM_ARGS", "ExportError", "ReportBundle", "chart_svg", "export_report", "fetch_bundle",
           "markdown_html", "panel_csv", "print_pdf", "render_html", "write_figures"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
_IMAGE_URI = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]*$")
_SAFE_LINK = re.compile(r"^(https?:|mailto:|#|/(?!/)|\.{0,2}/|[^:]*$)", re.IGNORECASE)


class ExportError(TrackerError):
    """The report could not be exported (a missing optional package, or Chromium failed)."""


@dataclass
class ReportBundle:
    """A report as its page shows it: the document, each block's data payload (None for text) and the bytes of
    the images those payloads reference, as data URIs by URL."""

    report: dict[str, Any]
    data: list[dict[str, Any] | None]
    images: dict[str, str] = field(default_factory=dict)


# ----- reading the server -----------------------------------------------------------------------------------


def fetch_bundle(client: Any, report_id: str, *, images: bool = True) -> ReportBundle:
    """The report ``report_id``, every panel's data and (with ``images``) the image bytes, from ``client``
    (a ``tracker_core.sync.ServerClient``). Raises ServerError for an unknown report or a failed call."""
    from tracker_core.sync._client import segment

    base = f"/api/v1/reports/{segment(report_id)}"
    report = dict(client.call("GET", base, f"reading report {report_id}"))
    data: list[dict[str, Any] | None] = []
    for i, block in enumerate(report.get("blocks") or []):
        if block.get("kind") == "panel":
            data.append(dict(client.call("GET", f"{base}/blocks/{i}/data", f"reading panel {i} of report {report_id}")))
        else:
            data.append(None)
    inlined: dict[str, str] = {}
    if images:
        for payload in data:
            for image in (payload or {}).get("images") or []:
                url = str(image.get("url") or "")
                if url.startswith("/") and url not in inlined:
                    body = client.call("GET", url, f"reading image {url}", raw=True)
                    inlined[url] = f"data:{_image_type(body)};base64,{base64.b64encode(body).decode()}"
    return ReportBundle(report, data, inlined)


def _image_type(body: bytes) -> str:
    if body.startswith(b"\x89PNG"):
        return "image/png"
    if body.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if body.startswith(b"GIF8"):
        return "image/gif"
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"  # an SVG or anything else is not shown inline (it could carry script)


# ----- HTML ---------------------------------------------------------------------------------------------------


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)

# The page's delimiters (ui/src/lib/markdown.ts): ``$...$`` inline, its body neither empty nor starting or ending
# in whitespace ("$5 and $6" stays prices) and ``$$`` not inline; ``$$...$$`` a block from a line starting with
# ``$$`` to the line ending in ``$$``; ``\$`` is a dollar sign (the escape rule runs first).


def _inline_math(state: Any, silent: bool) -> bool:
    src, start = state.src, state.pos
    if src[start] != "$" or src[start + 1: start + 2] == "$":
        return False
    end = src.find("$", start + 1)
    if end < 0 or end == start + 1:
        return False
    body = src[start + 1: end]
    if body[0].isspace() or body[-1].isspace():
        return False
    if not silent:
        state.push("math_inline", "math", 0).content = body
    state.pos = end + 1
    return True


def _block_math(state: Any, start_line: int, end_line: int, silent: bool) -> bool:
    def line_text(n: int) -> str:
        return str(state.src[state.bMarks[n] + state.tShift[n]: state.eMarks[n]])

    first = line_text(start_line)
    if not first.startswith("$$"):
        return False
    if silent:
        return True
    body = first[2:]
    line = start_line
    closed = body.rstrip().endswith("$$") and len(body.strip()) >= 2
    if closed:
        body = body.rstrip()[:-2]
    while not closed and line + 1 < end_line:
        line += 1
        text = line_text(line)
        if text.rstrip().endswith("$$"):
            body += "\n" + text.rstrip()[:-2]
            closed = True
        else:
            body += "\n" + text
    token = state.push("math_block", "math", 0)
    token.block = True
    token.content = body.strip()
    token.map = [start_line, line + 1]
    state.line = line + 1
    return True


def _md() -> Any:
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        raise ExportError("exporting a report needs markdown-it-py\nHint: pip install \"tracker[reports]\"") from None

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")
    md.validateLink = lambda url: bool(_SAFE_LINK.match(url.strip()))  # type: ignore[method-assign]

    md.inline.ruler.after("escape", "math_inline", _inline_math)
    md.block.ruler.after("blockquote", "math_block", _block_math, {"alt": ["paragraph", "reference", "blockquote",
                                                                           "list"]})
    md.add_render_rule("math_inline", lambda self, tokens, i, options, env: tex_html(tokens[i].content, False))
    md.add_render_rule("math_block", lambda self, tokens, i, options, env:
                       f'<div class="math-block">{tex_html(tokens[i].content, True)}</div>\n')
    return md


def markdown_html(text: str) -> str:
    """Markdown as safe HTML: raw HTML escaped, links only to http(s), mailto and relative addresses, ``$...$``
    and ``$$...$$`` as sanitised MathML (``_math.tex_html``; TeX text where it cannot convert), no script."""
    return str(_md().render(text))


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1d2330;max-width:900px;
margin:24px auto;padding:0 18px}
h1{font-size:24px} .meta{color:#6b7385;font-size:12px;margin-bottom:18px}
pre{background:#f3f4f7;padding:8px;overflow:auto} code{background:#f3f4f7;padding:0 3px}
.math{font-family:"Latin Modern Math","STIX Two Math","Cambria Math",serif;font-style:italic}
.math.display{display:block;text-align:center;margin:8px 0} .math-block{margin:8px 0;text-align:center}
math{font-family:"Latin Modern Math","STIX Two Math","Cambria Math",math} math[display="block"]{margin:0 auto}
.panel{border:1px solid #d5dae3;border-radius:4px;padding:10px 12px;margin:14px 0;break-inside:avoid}
.panel h3{margin:0 0 6px;font-size:14px} .pinned{color:#6a4b00;background:#fff4d6;font-size:11px;padding:0 5px}
.message{color:#6a4b00;background:#fff4d6;padding:6px 8px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:2px 6px;border-bottom:1px solid #eef0f4;font-size:12px}
.scalar{font-size:30px;font-weight:700} .muted{color:#6b7385;font-size:12px}
.images{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:8px} .images img{width:100%}
figure{margin:0} figcaption{font-size:11px}
"""


def _panel_html(spec: Mapping[str, Any], data: Mapping[str, Any] | None, images: Mapping[str, str]) -> str:
    kind = str(spec.get("type"))
    title = spec.get("title") or f"{kind} · {spec.get('metric') or ''}".rstrip(" ·")
    head = f"<h3>{_e(title)}"
    if data and data.get("pinned"):
        head += f' <span class="pinned">pinned {_e(data.get("pinned_at") or "")}</span>'
    head += "</h3>"
    if data is None:
        return f'<section class="panel" data-type="{_e(kind)}">{head}<div class="message">no data</div></section>'
    parts = [head]
    runs = data.get("runs") or []
    if data.get("message"):
        parts.append(f'<div class="message">{_e(data["message"])}</div>')
    svg = chart_svg(spec, data, figure=False)
    if svg:
        parts.append(svg)
    if kind in ("scalar", "best"):
        best = best_of(spec, data)
        if best:
            run, value = best
            parts.append(f'<div class="scalar" data-value="{_e(text_of(value))}">{_e(text_of(value))}</div>'
                         f'<div class="muted">{"highest" if spec.get("goal") == "max" else "lowest"} '
                         f'{_e(spec.get("metric"))}: <b>{_e(run.get("name"))}</b> ({_e(run.get("id"))}), '
                         f"out of {len(runs)} {'run' if len(runs) == 1 else 'runs'}</div>")
            if kind == "best" and run.get("config"):
                parts.append("<div>" + ", ".join(f"<b>{_e(k)}</b>={_e(text_of(v))}" for k, v in run["config"].items())
                             + "</div>")
        for group in data.get("groups") or []:  # a grouped run set: each group's mean (min-max) of the metric
            summary = group.get("summary") or {}
            mean = (f"mean {_e(text_of(summary.get('mean')))} ({_e(text_of(summary.get('min')))}&ndash;"
                     f"{_e(text_of(summary.get('max')))})" if summary.get("count") else "no value")
            parts.append(f'<div class="group" data-group="{_e(group_name(group))}"><b>{_e(group_name(group))}</b> '
                         f"({_e(group.get('count'))} {'run' if group.get('count') == 1 else 'runs'}): {mean}</div>")
    elif kind == "images":
        figures = []
        for image in data.get("images") or []:
            src = images.get(str(image.get("url")), "")
            src = src if _IMAGE_URI.match(src) else ""  # only a raster image inlines (no SVG, no HTML)
            img = f'<img src="{_e(src)}" alt="">' if src else ""
            figures.append(f"<figure>{img}<figcaption>{_e(image.get('caption') or '')} "
                           f"step {_e(text_of(image.get('step')))}</figcaption></figure>")
        parts.append(f'<div class="images">{"".join(figures)}</div>')
    elif kind == "sweep":
        sweep = data.get("sweep") or {}
        facts = "".join(f"<tr><th>{_e(k)}</th><td>{_e(text_of(v))}</td></tr>" for k, v in sweep.items()
                        if not isinstance(v, Mapping | list))
        counts = ", ".join(f"{_e(k)}: {_e(text_of(v))}" for k, v in (sweep.get("counts") or {}).items())
        parts.append(f"<table>{facts}<tr><th>trials</th><td>{counts}</td></tr></table>")
    if kind == "table" or (kind in ("bar", "scatter", "parallel") and runs):
        columns = columns_of(spec)
        grouped = data.get("groups") is not None
        rows = "".join("<tr>" + (f'<td data-field="group">{_e(group_name(g))}</td>' if g is not None else "")
                       + f"<td>{_e(r.get('name'))}</td><td>{_e(r.get('state'))}</td>"
                       + "".join(f'<td data-field="{_e(c)}">{_e(text_of(field_of(r, c)))}</td>' for c in columns)
                       + "</tr>" for r, g in grouped_rows(data))
        parts.append(f"<table><thead><tr>{'<th>group</th>' if grouped else ''}<th>run</th><th>state</th>"
                     f"{''.join(f'<th>{_e(c)}</th>' for c in columns)}</tr></thead><tbody>{rows}</tbody></table>")
    return f'<section class="panel" data-type="{_e(kind)}">{"".join(parts)}</section>'


def _when(stamp: Any) -> str:
    """A time as UTC text: unix seconds (the server's) or an ISO string as given."""
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        import datetime

        return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "" if stamp is None else str(stamp)


def render_html(bundle: ReportBundle) -> str:
    """The report as one HTML document that needs no network: styles inline, charts inline SVG, images as
    data URIs, no script."""
    report = bundle.report
    body = []
    for i, block in enumerate(report.get("blocks") or []):
        if block.get("kind") == "panel":
            data = bundle.data[i] if i < len(bundle.data) else None
            body.append(_panel_html(block.get("spec") or {}, data, bundle.images))
        else:
            body.append(f'<div class="text">{markdown_html(str(block.get("text") or ""))}</div>')
    meta = (f"{_e(report.get('project'))} · revision {_e(report.get('revision'))} by {_e(report.get('updated_by'))} · "
            f"{_e(_when(report.get('updated_at')))}")
    return ("<!doctype html><html><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'\">"
            f"<title>{_e(report.get('title'))}</title><style>{_CSS}</style></head><body>"
            f"<h1>{_e(report.get('title'))}</h1><div class=\"meta\">{meta}</div>{''.join(body)}</body></html>\n")


# ----- PDF and figure files ----------------------------------------------------------------------------------


def print_pdf(document: str, path: str | os.PathLike[str], *, chromium: str = CHROMIUM) -> None:
    """Print ``document`` (HTML) to a PDF at ``path`` with headless Chromium (A4, backgrounds on).

    Raises:
        ExportError: Playwright is not installed, or Chromium could not be started.
    """
    _print([(document, Path(path), {"format": "A4", "margin": {"top": "14mm", "bottom": "14mm", "left": "12mm",
                                                              "right": "12mm"}})], chromium)


def _print(jobs: list[tuple[str, Path, dict[str, Any]]], chromium: str = CHROMIUM) -> None:
    """Each (HTML, path, page.pdf options) printed by one headless Chromium. Raises ExportError."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ExportError("PDF export needs Playwright\nHint: pip install \"tracker[reports]\"") from None
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=chromium if os.path.exists(chromium) else None,
                                             args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                for document, path, options in jobs:
                    page.set_content(document, wait_until="load")
                    page.pdf(path=str(path), print_background=True, **options)
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise ExportError(f"printing the PDF failed: {str(exc).splitlines()[0]}\nHint: install Chromium "
                          f"(apt-get install chromium) at {chromium}") from None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:40] or "panel"


def write_figures(bundle: ReportBundle, folder: str | os.PathLike[str], *, pdf: bool = False) -> list[Path]:
    """Each panel's chart as ``panel-N-title.svg`` (FIGURE_WIDTH_IN wide; with ``pdf`` also as a PDF page of
    that size, printed by headless Chromium) and every panel's data as ``panel-N-title.csv`` in ``folder``
    (created); returns the files written. Raises ExportError for ``pdf`` without Playwright or Chromium."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    prints: list[tuple[str, Path, dict[str, Any]]] = []
    for i, block in enumerate(bundle.report.get("blocks") or []):
        data = bundle.data[i] if i < len(bundle.data) else None
        if block.get("kind") != "panel" or data is None:
            continue
        spec = block.get("spec") or {}
        stem = f"panel-{i}-{_slug(str(spec.get('title') or spec.get('metric') or spec.get('type')))}"
        svg = chart_svg(spec, data, figure=True)
        if svg:
            (out / f"{stem}.svg").write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + svg + "\n", encoding="utf-8")
            written.append(out / f"{stem}.svg")
            if pdf:
                height = re.search(r'height="([0-9.]+)in"', svg)
                size = {"width": f"{FIGURE_WIDTH_IN}in", "height": f"{float(height.group(1)) if height else 2.5:.3f}in",
                        "margin": {"top": "0", "bottom": "0", "left": "0", "right": "0"}, "page_ranges": "1"}
                page = (f"<!doctype html><html><head><style>html,body{{margin:0;padding:0}} svg{{display:block}}"
                        f"</style></head><body>{svg}</body></html>")
                prints.append((page, out / f"{stem}.pdf", size))
        (out / f"{stem}.csv").write_text(panel_csv(spec, data), encoding="utf-8")
        written.append(out / f"{stem}.csv")
    if prints:
        _print(prints)
        written += [path for _, path, _ in prints]
    return written


def export_report(bundle: ReportBundle, fmt: str, output: str | os.PathLike[str], *,
                  figures: str | os.PathLike[str] | None = None, figure_pdf: bool = False) -> list[Path]:
    """Write ``bundle`` as ``fmt`` (html, pdf or md) to ``output``; ``md`` (and any format given ``figures``)
    also writes each chart's SVG (and with ``figure_pdf`` its PDF) and CSV into ``figures`` (default:
    ``<output stem>_figures`` beside it).
    Returns the files written. Raises ExportError (PDF without Playwright or Chromium) or ValueError (format)."""
    path = Path(output)
    if fmt not in ("html", "pdf", "md"):
        raise ValueError(f"unknown export format {fmt!r} (html, pdf or md)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "md":
        path.write_text(str(bundle.report.get("markdown") or ""), encoding="utf-8")
    elif fmt == "html":
        path.write_text(render_html(bundle), encoding="utf-8")
    else:
        print_pdf(render_html(bundle), path)
    written = [path]
    if fmt == "md" or figures is not None:
        folder = figures if figures is not None else path.with_name(path.stem + "_figures")
        written += write_figures(bundle, folder, pdf=figure_pdf)
    return written

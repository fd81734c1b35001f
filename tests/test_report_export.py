"""Report export from panel payloads: sanitised Markdown, inline SVG charts with the payload's numbers, the CSV
behind each chart, figure files for LaTeX, and a PDF printed by real headless Chromium (checked with pdftoppm)."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tracker_core.reports._export import (
    ReportBundle,
    chart_svg,
    export_report,
    markdown_html,
    panel_csv,
    render_html,
    write_figures,
)
from tracker_core.reports._math import MATHML_ATTRIBUTES, MATHML_ELEMENTS

XSS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))",
       "[x](JAVASCRIPT:alert(1))", "![y](javascript:alert(2))", "<a href=\"javascript:alert(1)\">a</a>",
       "<svg onload=alert(1)>", "[d](data:text/html;base64,PHNjcmlwdD4=)", "<iframe src=//evil></iframe>"]


def _runs() -> list[dict[str, Any]]:
    return [{"id": f"r{i}", "name": f"run-{i}" if i else "<img src=x onerror=alert(9)>", "project": "t/p",
             "state": "finished", "config": {"lr": 10.0 ** -i}, "summary": {"val/loss": 1.0 / (i + 1)}}
            for i in range(4)]


def bundle() -> ReportBundle:
    runs = _runs()
    series = {r["id"]: {"x": [0, 1, 2, 3], "y": [2.0, 1.5, 1.0 + k / 10, 0.5 + k / 10]} for k, r in enumerate(runs)}
    blocks = [
        {"kind": "markdown",
         "text": "# Findings\n\nInline $a^2$ and a [link](https://example.org).\n\n" + "\n\n".join(XSS)},
        {"kind": "panel", "spec": {"type": "line", "title": "Validation loss", "metric": "val/loss", "x": "_step"}},
        {"kind": "panel", "spec": {"type": "best", "title": "Best", "metric": "val/loss", "goal": "min"}},
        {"kind": "panel", "spec": {"type": "bar", "metric": "val/loss", "goal": "min"}},
        {"kind": "panel", "spec": {"type": "table", "columns": ["config.lr", "summary.val/loss"]}},
        {"kind": "panel", "spec": {"type": "scatter", "param": "config.lr", "metric": "val/loss"}},
        {"kind": "panel", "spec": {"type": "parallel", "columns": ["config.lr", "summary.val/loss"]}},
        {"kind": "panel", "spec": {"type": "line", "title": "Empty", "metric": "val/loss"}},
    ]
    data: list[dict[str, Any] | None] = [
        None,
        {"type": "line", "pinned": False, "runs": runs, "series": series},
        {"type": "best", "pinned": True, "pinned_at": "2026-12-03T08:00:00Z", "runs": runs,
         "best": {**runs[3], "value": 0.25}},
        {"type": "bar", "pinned": False, "runs": runs},
        {"type": "table", "pinned": False, "runs": runs},
        {"type": "scatter", "pinned": False, "runs": runs},
        {"type": "parallel", "pinned": False, "runs": runs},
        {"type": "line", "pinned": False, "runs": [], "series": {}, "message": "no run matches this run set"},
    ]
    report = {"id": "rep1", "title": "Weekly <b>best</b> runs", "project": "t/p", "revision": 3, "updated_by": "ana",
              "updated_at": "2026-12-03T08:00:00Z", "markdown": "---\ntitle: x\n---\n", "blocks": blocks}
    return ReportBundle(report, data)


class _Walker(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.bad: list[str] = []
        self.tags: list[str] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("script", "iframe", "object", "embed"):
            self.bad.append(tag)
        for name, value in attrs:
            if name == "src":
                self.sources.append(value or "")
            if name.startswith("on"):
                self.bad.append(f"{tag}[{name}]")
            if name in ("href", "src", "xlink:href") and re.match(r"\s*(javascript|vbscript|data):", value or "", re.I):
                self.bad.append(f"{tag}[{name}={value}]")


def _walk(document: str) -> _Walker:
    walker = _Walker()
    walker.feed(document)
    return walker


def test_markdown_renders_structure_and_keeps_payloads_inert() -> None:
    rendered = markdown_html("# T\n\n- a\n- b\n\n`x`\n\n$e^{i\\pi}$ [ok](https://e.org)\n\n" + "\n\n".join(XSS))
    walker = _walk(rendered)
    assert walker.bad == []
    assert {"h1", "ul", "li", "code", "a"} <= set(walker.tags)
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline"><mrow><msup><mi>e</mi>' in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered


MATH_XSS = [r"$\text{<script>alert(1)</script>}$", r"$\text{</math><script>alert(2)</script>}$",
            r"$$\href{javascript:alert(3)}{x}$$", r"$\style{background:url(//evil)}{x}$",
            r"$\mathrm{<img src=x onerror=alert(4)>}$", r'$\color{red" onmouseover="alert(5)}{x}$',
            r"$\operatorname{<svg onload=alert(6)>}$", r"$$\text{<iframe src=//evil></iframe>}$$"]


def _math_elements(document: str) -> list[tuple[str, list[str]]]:
    """(tag, attribute names) of every element inside a <math> of ``document``."""
    found: list[tuple[str, list[str]]] = []
    depth = [0]

    class Math(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "math" or depth[0]:
                depth[0] += 1
                found.append((tag, [name for name, _ in attrs]))

        def handle_endtag(self, tag: str) -> None:
            if depth[0]:
                depth[0] -= 1

    Math().feed(document)
    return found


def test_math_becomes_mathml_with_the_pages_delimiters() -> None:
    rendered = markdown_html("Inline $\\frac{a}{b}$ costs \\$5 and $6, not $ x $.\n\n$$\n\\sum_{i=1}^{n} i^2\n$$\n\n"
                             "Broken $\\frac{$ stays TeX, $\\color{red}{c}$.\n\n$$\\sqrt{x}$$")
    inline = re.findall(r'<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">', rendered)
    blocks = re.findall(r'<div class="math-block"><math xmlns="http://www.w3.org/1998/Math/MathML" '
                        r'display="block">', rendered)
    assert len(inline) == 2 and len(blocks) == 2, rendered
    assert "<mfrac>" in rendered and "<munderover><mo>\u2211</mo>" in rendered and "<msqrt>" in rendered
    assert '<mstyle mathcolor="red">' in rendered
    assert "costs $5 and $6, not $ x $." in rendered  # an escaped dollar, prices and spaced dollars are text
    assert '<span class="math">\\frac{</span> stays TeX' in rendered  # latex2mathml cannot read it: its TeX
    for tag, attrs in _math_elements(rendered):
        assert tag in MATHML_ELEMENTS and set(attrs) <= MATHML_ATTRIBUTES | {"xmlns"}, (tag, attrs)


def test_payloads_inside_math_stay_inert() -> None:
    rendered = markdown_html("\n\n".join(MATH_XSS))
    walker = _walk(rendered)
    assert walker.bad == [], walker.bad
    assert rendered.count("<math ") == len(MATH_XSS)  # each converted (none fell back), and each sanitised
    assert "<script" not in rendered and "<img" not in rendered and "<svg" not in rendered and "<iframe" not in rendered
    assert "href" not in rendered and "style=" not in rendered and "url(" not in rendered
    assert "onmouseover" not in rendered and "<mstyle><mrow><mi>x</mi>" in rendered  # the bad colour dropped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered  # \text keeps the characters, escaped
    for tag, attrs in _math_elements(rendered):
        assert tag in MATHML_ELEMENTS and set(attrs) <= MATHML_ATTRIBUTES | {"xmlns"}, (tag, attrs)


def test_math_without_latex2mathml_stays_tex_with_one_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker_core import TrackerWarning
    from tracker_core.reports import _math

    monkeypatch.setitem(sys.modules, "latex2mathml.converter", None)  # what an install without it sees
    monkeypatch.setattr(_math, "_warned", False)
    with pytest.warns(TrackerWarning, match="latex2mathml") as caught:
        rendered = markdown_html("$a<b$ and $c$\n\n$$\\frac{1}{2}$$")
    assert len(caught) == 1
    assert '<span class="math">a&lt;b</span>' in rendered and '<span class="math">c</span>' in rendered
    assert '<div class="math-block"><span class="math display">\\frac{1}{2}</span></div>' in rendered


def test_html_is_self_contained_inert_and_shows_the_numbers() -> None:
    document = render_html(bundle())
    walker = _walk(document)
    assert walker.bad == [], walker.bad
    assert walker.sources == [] and "url(" not in document and "@import" not in document  # nothing to fetch
    assert "<title>Weekly &lt;b&gt;best&lt;/b&gt; runs</title>" in document
    assert "&lt;img src=x onerror=alert(9)&gt;" in document  # a run name is text
    assert document.count("<svg") == 4  # line, bar, scatter, parallel; the empty line set draws none
    assert re.search(r'data-run="r3" data-last="0.8"', document)  # the line's last value of run r3
    assert 'class="scalar" data-value="0.25"' in document and "pinned 2026-12-03T08:00:00Z" in document
    assert "no run matches this run set" in document
    assert '<td data-field="config.lr">0.001</td>' in document


def test_csv_and_figures(tmp_path: Path) -> None:
    b = bundle()
    rows = list(csv.reader(io.StringIO(panel_csv(b.report["blocks"][1]["spec"], b.data[1] or {}))))
    assert rows[0] == ["run_id", "run_name", "_step", "val/loss"]
    assert len(rows) == 1 + 4 * 4 and rows[-1] == ["r3", "run-3", "3", "0.8"]
    table = list(csv.reader(io.StringIO(panel_csv(b.report["blocks"][4]["spec"], b.data[4] or {}))))
    assert table[1] == ["r0", "<img src=x onerror=alert(9)>", "finished", "1", "1"]
    written = write_figures(b, tmp_path / "figs")
    names = sorted(p.name for p in written)
    assert "panel-1-validation-loss.svg" in names and "panel-1-validation-loss.csv" in names
    assert "panel-2-best.csv" in names and "panel-2-best.svg" not in names  # a card has data, no chart
    svg = (tmp_path / "figs" / "panel-1-validation-loss.svg").read_text()
    assert svg.startswith("<?xml") and 'width="3.4in"' in svg
    assert chart_svg({"type": "table"}, b.data[4] or {}) is None


@pytest.mark.slow
def test_pdf_has_the_charts(tmp_path: Path) -> None:
    if not Path("/usr/bin/chromium").exists() or shutil.which("pdftoppm") is None:
        pytest.skip("needs /usr/bin/chromium and pdftoppm (poppler-utils)")
    pytest.importorskip("playwright.sync_api")
    out = export_report(bundle(), "pdf", tmp_path / "report.pdf")
    assert out == [tmp_path / "report.pdf"]
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(tmp_path / "report.pdf"),
                    str(tmp_path / "page")], check=True, timeout=60)
    page = next(tmp_path.glob("page*.png"))
    text = subprocess.run(["pdftotext", str(tmp_path / "report.pdf"), "-"], capture_output=True, text=True,
                          timeout=60).stdout
    assert "Validation loss" in text and "0.25" in text
    shutil.copy(page, "/tmp/report_export_pdf_page1.png")
    figures = write_figures(bundle(), tmp_path / "figs", pdf=True)
    chart = tmp_path / "figs" / "panel-1-validation-loss.pdf"
    assert chart in figures and (tmp_path / "figs" / "panel-2-best.pdf") not in figures
    info = subprocess.run(["pdfinfo", str(chart)], capture_output=True, text=True, timeout=60).stdout
    width, height = (float(v) for v in re.search(r"Page size:\s+([0-9.]+) x ([0-9.]+)", info).groups())  # type: ignore[union-attr]
    assert abs(width - 3.4 * 72) < 2 and re.search(r"Pages:\s+1\n", info)  # one page, the figure's width
    subprocess.run(["pdftoppm", "-png", "-r", "150", str(chart), str(tmp_path / "fig")], check=True, timeout=60)
    shutil.copy(next(tmp_path.glob("fig*.png")), "/tmp/report_figure_pdf.png")
    assert height > 100


@pytest.mark.slow
def test_export_route_renders_what_the_page_sends(tmp_path: Path) -> None:
    import dataclasses

    from _server import Server, new_key  # the tests folder's helpers

    server = Server(tmp_path / "server").start()
    try:
        key = new_key(server.data, "research", "page")
        body = dataclasses.asdict(bundle())
        with server.client() as anonymous:
            assert anonymous.post("/api/v1/report-export", json=body).status_code == 401
        with server.client(key) as client:
            page = client.post("/api/v1/report-export?format=html", json=body)
            assert page.status_code == 200, page.text
            assert page.headers["content-disposition"] == 'attachment; filename="weekly--b-best--b--runs.html"'
            assert page.text == render_html(bundle())
            assert client.post("/api/v1/report-export?format=docx", json=body).status_code == 400
            assert client.post("/api/v1/report-export", json={"report": 1}).status_code == 400
            if Path("/usr/bin/chromium").exists():
                pdf = client.post("/api/v1/report-export?format=pdf", json=body, timeout=120)
                assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    finally:
        server.kill()


def test_sweep_lineage_and_images_panels() -> None:
    png = "data:image/png;base64,iVBORw0KGgo="
    sweep = {"id": "sw1", "name": "lr search", "method": "bayes", "state": "running", "counts": {"finished": 3},
             "config": {"metric": {"name": "val/loss", "goal": "minimize"}},
             "trials": [{"number": n, "value": v, "state": "finished"} for n, v in ((0, 0.9), (1, 0.5), (2, 0.7))]}
    graph = {"root": "a1", "nodes": [{"id": "r1", "kind": "run", "name": "train <b>"},
                                     {"id": "a1", "kind": "artifact", "name": "model", "version": 2,
                                      "ref": "model:v2"}],
             "edges": [{"from": "r1", "to": "a1"}]}
    b = ReportBundle({"title": "t", "blocks": [
        {"kind": "panel", "spec": {"type": "sweep", "key": "sw1"}},
        {"kind": "panel", "spec": {"type": "lineage", "key": "model:v2"}},
        {"kind": "panel", "spec": {"type": "images", "key": "samples"}}]}, [
        {"type": "sweep", "pinned": False, "runs": [], "sweep": sweep},
        {"type": "lineage", "pinned": False, "runs": [], "lineage": graph},
        {"type": "images", "pinned": False, "runs": [], "images": [
            {"run_id": "r1", "step": 3, "url": "/api/v1/x.png", "caption": "a cat"},
            {"run_id": "r1", "step": 4, "url": "/api/v1/evil.svg", "caption": "svg"}]}],
        {"/api/v1/x.png": png, "/api/v1/evil.svg": "data:image/svg+xml;base64,PHN2Zz4="})
    document = render_html(b)
    sweep_svg = chart_svg(b.report["blocks"][0]["spec"], b.data[0] or {}) or ""
    assert sweep_svg.count("<circle") == 3 and "lr search" in document and "finished: 3" in document
    lineage_svg = chart_svg(b.report["blocks"][1]["spec"], b.data[1] or {}) or ""
    assert 'data-node="model:v2"' in lineage_svg and "train &lt;b&gt;" in lineage_svg
    assert f'<img src="{png}"' in document and "svg+xml" not in document  # only raster images inline
    assert "a cat" in document


@pytest.mark.slow
def test_pdf_typesets_math(tmp_path: Path) -> None:
    if not Path("/usr/bin/chromium").exists() or shutil.which("pdftoppm") is None:
        pytest.skip("needs /usr/bin/chromium and pdftoppm (poppler-utils)")
    pytest.importorskip("playwright.sync_api")
    text = ("# Math\n\nThe loss $\\mathcal{L} = \\frac{1}{N}\\sum_{i=1}^{N} (y_i - \\hat{y}_i)^2$ falls.\n\n"
            "$$\n\\sigma(x) = \\frac{1}{1 + e^{-x}}\n$$\n\n"
            "$$\\int_0^{\\infty} e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}$$\n\n" + "\n\n".join(MATH_XSS))
    b = ReportBundle({"title": "Math", "project": "t/p", "revision": 1, "updated_by": "ana",
                      "blocks": [{"kind": "markdown", "text": text}]}, [None])
    document = render_html(b)
    assert document.count("<math ") == 3 + len(MATH_XSS) and _walk(document).bad == []
    export_report(b, "pdf", tmp_path / "math.pdf")
    pdf_text = subprocess.run(["pdftotext", str(tmp_path / "math.pdf"), "-"], capture_output=True, text=True,
                              timeout=60).stdout
    assert "\\frac" not in pdf_text and "\\sum" not in pdf_text and "\\int" not in pdf_text  # no TeX source shown
    assert "∑" in pdf_text and "∫" in pdf_text and "\U0001d70e" in pdf_text  # typeset: sum, integral, italic sigma
    assert "<script>alert(1)</script>" in pdf_text  # \text shows the characters as text; nothing ran
    subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", str(tmp_path / "math.pdf"),
                    str(tmp_path / "math")], check=True, timeout=60)
    shutil.copy(next(tmp_path.glob("math*.png")), "/tmp/report_math.png")


def test_grouped_line_and_bar_draw_one_series_per_group() -> None:
    import xml.etree.ElementTree as ET

    from tracker_core.reports._groups import group_series, group_summary, grouped

    runs = _runs()
    series = {r["id"]: {"x": list(range(k, 4)), "y": [1.0 + k + s for s in range(k, 4)]} for k, r in enumerate(runs)}
    groups = grouped([(r["id"], "big" if r["config"]["lr"] > 0.05 else "small") for r in runs])
    for g in groups:
        g["series"] = group_series([series[i] for i in g["runs"]])
        g["summary"] = group_summary([next(r for r in runs if r["id"] == i)["summary"]["val/loss"] for i in g["runs"]])
    line_spec = {"type": "line", "title": "Grouped", "metric": "val/loss", "runs": {"group": "config.lr"}}
    bar_spec = {"type": "bar", "metric": "val/loss", "goal": "min", "runs": {"group": "config.lr"}}
    payload = {"type": "line", "pinned": False, "runs": runs, "series": series, "groups": groups}
    ns = {"s": "http://www.w3.org/2000/svg"}

    drawn = ET.fromstring(chart_svg(line_spec, payload) or "")
    shown = drawn.findall("s:g[@data-group]", ns)
    assert [(g.get("data-group"), g.get("data-count")) for g in shown] == [("big", "2"), ("small", "2")]
    # y = 1 + k + x for run rk: at x=3 "big" (r0, r1) has the mean (4 + 5) / 2, "small" (r2, r3) (6 + 7) / 2
    assert shown[0].get("data-last") == "4.5" and shown[1].get("data-last") == "6.5"
    for g, expected in zip(shown, groups, strict=True):
        line, band = g.find("s:polyline", ns), g.find("s:polygon", ns)
        assert line is not None and band is not None
        assert len(line.get("points", "").split()) == len(expected["series"]["x"])  # the mean at each x
        assert len(band.get("points", "").split()) == 2 * len(expected["series"]["x"])  # max forth, min back
    legend = [t.text for t in drawn.findall("s:text", ns)]
    assert "big (2 runs)" in legend and "small (2 runs)" in legend and "run-1" not in legend

    bars = ET.fromstring(chart_svg(bar_spec, {**payload, "type": "bar"}) or "")
    assert [(g.get("data-group"), g.get("data-value")) for g in bars.findall("s:g[@data-group]", ns)] == [
        ("small", "0.291667"), ("big", "0.75")]  # mean of 1/3, 1/4 and of 1, 1/2: the lower first
    assert len(bars.findall(".//s:line[@class='whisker']", ns)) == 2
    table_spec = {"type": "table", "columns": ["config.lr"], "runs": {"group": "config.lr"}}
    page = render_html(ReportBundle({**bundle().report, "blocks": [{"kind": "panel", "spec": line_spec},
                                                                    {"kind": "panel", "spec": table_spec}]},
                                    [payload, {**payload, "type": "table"}]))
    assert 'data-group="big" data-count="2"' in page
    assert page.count('<td data-field="group">big</td>') == 2 and "<th>group</th><th>run</th>" in page

    rows = list(csv.reader(io.StringIO(panel_csv(line_spec, payload))))  # the data the grouped chart draws
    assert rows[0] == ["group", "runs", "_step", "mean", "min", "max", "count"]
    assert rows[1:5] == [["big", "2", "0", "1", "1", "1", "1"], ["big", "2", "1", "2.5", "2", "3", "2"],
                         ["big", "2", "2", "3.5", "3", "4", "2"], ["big", "2", "3", "4.5", "4", "5", "2"]]
    table = list(csv.reader(io.StringIO(panel_csv(table_spec, payload))))
    assert table[0] == ["run_id", "run_name", "state", "group", "config.lr"]
    assert [row[3] for row in table[1:]] == ["big", "big", "small", "small"]

"""Export a report for reading without the server: self-contained HTML (each chart as inline SVG drawn here from
its panel's data payload, Markdown sanitised, images inlined as data URIs), PDF printed from that HTML by headless
Chromium, and each chart as an SVG sized for a LaTeX figure with the CSV of its data.

Nothing here talks to a database: the report and its panels' payloads come from the server's report routes
(``fetch_bundle``) or are handed in (``ReportBundle``). markdown-it-py renders Markdown with raw HTML off (a tag
in the text stays text) and only http(s), mailto and relative links; Playwright is imported only for PDF.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker_core._errors import TrackerError

__all__ = ["CHROMIUM_ARGS", "ReportBundle", "chart_svg", "export_report", "fetch_bundle", "markdown_html",
           "panel_csv", "print_pdf", "render_html", "write_figures"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
           "#0b3d91", "#b35806", "#00441b", "#67000d", "#3f007d", "#4d2a12", "#a6216e", "#252525", "#6b6b00", "#006d77"]
CHART_TYPES = frozenset({"line", "bar", "scatter", "parallel", "lineage", "sweep"})
"""Panel types drawn as a chart (an SVG); the others (table, scalar, best, images) are markup."""
BAR_ROWS = 25
"""A bar chart draws the best runs only (its CSV holds them all)."""
FIGURE_WIDTH_IN = 3.4
"""A chart file's width in inches: one column of a two-column paper (``\\includegraphics[width=\\columnwidth]``)."""
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


# ----- values of runs -----------------------------------------------------------------------------------------


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and "$f" not in value and "$m" not in value:
            out.update(_flatten(value, name))
        else:
            out[name] = value
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping) and "$f" in value:
        return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}.get(str(value["$f"]))
    return None


def _finite(value: Any) -> float | None:
    n = _number(value)
    return n if n is not None and math.isfinite(n) else None


def field_of(run: Mapping[str, Any], name: str) -> Any:
    """A run's value of ``config.X``, ``summary.X``, ``name``/``state``/``id``, or a bare summary metric."""
    if name in ("name", "state", "id", "project"):
        return run.get(name)
    for head in ("config", "summary"):
        if name.startswith(head + "."):
            key = name[len(head) + 1:]
            tree = run.get(head) or {}
            if key in tree:
                return tree[key]
            if name in tree:
                return tree[name]
            return _flatten(tree).get(key)
    summary = run.get("summary") or {}
    return summary[name] if name in summary else _flatten(summary).get(name)


def _metric(run: Mapping[str, Any], metric: str) -> float | None:
    return _finite(field_of(run, metric if metric.startswith("summary.") else "summary." + metric))


def text_of(value: Any) -> str:
    """A value as the UI shows it: numbers to 6 significant digits, NaN/inf by name, media as [kind]."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    n = _number(value)
    if n is not None and not isinstance(value, bool):
        if math.isnan(n):
            return "NaN"
        if math.isinf(n):
            return "inf" if n > 0 else "-inf"
        if n.is_integer() and abs(n) < 1e15:
            return str(int(n))
        return f"{n:.6g}"
    if isinstance(value, Mapping) and "$m" in value:
        return f"[{(value['$m'] or {}).get('kind', 'media')}]"
    if isinstance(value, bool):
        return "true" if value else "false"
    import json

    return json.dumps(value)


def _ranked(runs: Sequence[Mapping[str, Any]], metric: str, goal: str) -> list[tuple[Mapping[str, Any], float]]:
    rows = [(run, v) for run in runs if (v := _metric(run, metric)) is not None]
    return sorted(rows, key=lambda row: -row[1] if goal == "max" else row[1])


def _best(spec: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[Mapping[str, Any], float] | None:
    best = data.get("best")
    if isinstance(best, Mapping) and (value := _finite(best.get("value"))) is not None:
        return best, value
    rows = _ranked(data.get("runs") or [], str(spec.get("metric") or ""), str(spec.get("goal") or "min"))
    return rows[0] if rows else None


def _columns(spec: Mapping[str, Any]) -> list[str]:
    if spec.get("columns"):
        return [str(c) for c in spec["columns"]]
    out = []
    if spec.get("param"):
        out.append(spec["param"] if "." in spec["param"] else "config." + spec["param"])
    if spec.get("metric"):
        out.append(spec["metric"] if spec["metric"].startswith("summary.") else "summary." + spec["metric"])
    return out


def _lines(data: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], list[tuple[float, float | None]]]]:
    out = []
    series = data.get("series") or {}
    for run in data.get("runs") or []:
        s = series.get(run.get("id"))
        if not s:
            continue
        points: list[tuple[float, float | None]] = []
        for x, y in zip(s.get("x") or [], s.get("y") or [], strict=False):
            fx = _finite(x)
            if fx is not None:
                points.append((fx, _finite(y)))
        out.append((run, points))
    return out


# ----- CSV ---------------------------------------------------------------------------------------------------


def panel_csv(spec: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    """The data behind a panel: a line chart's points (run, x, y), an image grid's images, else one row a run."""
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    kind = spec.get("type")
    if kind == "line":
        out.writerow(["run_id", "run_name", spec.get("x") or "_step", spec.get("metric") or "value"])
        for run, points in _lines(data):
            for x, y in points:
                out.writerow([run.get("id"), run.get("name"), text_of(x), "" if y is None else text_of(y)])
    elif kind == "images":
        out.writerow(["run_id", "step", "caption", "url"])
        for image in data.get("images") or []:
            out.writerow([image.get("run_id"), text_of(image.get("step")), image.get("caption") or "",
                          image.get("url")])
    else:
        columns = _columns(spec)
        out.writerow(["run_id", "run_name", "state", *columns])
        for run in data.get("runs") or []:
            values = [text_of(field_of(run, c)) for c in columns]
            out.writerow([run.get("id"), run.get("name"), run.get("state"), *values])
    return buffer.getvalue()


# ----- SVG charts ----------------------------------------------------------------------------------------------


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if lo == hi:
        return [lo]
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next((m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw), raw)
    first = math.ceil(lo / step) * step
    return [float(f"{first + i * step:.12g}") for i in range(60) if first + i * step <= hi + step * 1e-9]


def _svg(width: float, height: float, body: list[str], *, figure: bool, label: str) -> str:
    size = (f'width="{FIGURE_WIDTH_IN}in" height="{FIGURE_WIDTH_IN * height / width:.3f}in"' if figure
            else f'width="100%" style="max-width:{int(width * 1.6)}px"')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:g} {height:g}" {size} role="img" '
            f'aria-label="{_e(label)}" font-family="Helvetica, Arial, sans-serif" font-size="9">'
            + "".join(body) + "</svg>")


def _short(text: Any, n: int = 22) -> str:
    s = str(text)
    return s if len(s) <= n else s[: n - 1] + "…"


def _axes(body: list[str], box: tuple[float, float, float, float], xr: tuple[float, float], yr: tuple[float, float],
          xlabel: str, ylabel: str) -> None:
    left, top, w, h = box
    sx = _scale(xr, left, left + w)
    sy = _scale(yr, top + h, top)
    body.append(f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#999" stroke-width="0.6"/>')
    for t in _ticks(*xr):
        x = f"{sx(t):.2f}"
        body.append(f'<line x1="{x}" x2="{x}" y1="{top}" y2="{top + h}" stroke="#eee" stroke-width="0.5"/>'
                    f'<text x="{x}" y="{top + h + 10}" text-anchor="middle" fill="#444">{_e(text_of(t))}</text>')
    for t in _ticks(*yr):
        if sy(t) > top + h - 6:  # at the x axis: its label would sit on the first x tick's
            continue
        y = f"{sy(t):.2f}"
        body.append(f'<line x1="{left}" x2="{left + w}" y1="{y}" y2="{y}" stroke="#eee" stroke-width="0.5"/>'
                    f'<text x="{left - 3}" y="{sy(t) + 3:.2f}" text-anchor="end" fill="#444">{_e(text_of(t))}</text>')
    body.append(f'<text x="{left + w / 2}" y="{top + h + 22}" text-anchor="middle">{_e(xlabel)}</text>'
                f'<text x="10" y="{top + h / 2}" text-anchor="middle" transform="rotate(-90 10 {top + h / 2})">'
                f"{_e(ylabel)}</text>")


def _scale(domain: tuple[float, float], a: float, b: float) -> Any:
    lo, hi = domain
    if hi == lo:
        return lambda _v: (a + b) / 2
    return lambda v: a + (v - lo) / (hi - lo) * (b - a)


def _pad(lo: float, hi: float) -> tuple[float, float]:
    if lo == hi:
        return (lo - 1, hi + 1) if lo == 0 else (lo - abs(lo) * 0.1, hi + abs(hi) * 0.1)
    return lo, hi


def _line_svg(spec: Mapping[str, Any], data: Mapping[str, Any], figure: bool) -> str | None:
    lines = _lines(data)
    xs = [x for _, pts in lines for x, _ in pts]
    ys = [y for _, pts in lines for _, y in pts if y is not None]
    if not ys:
        return None
    width, height = 340.0, 200.0 + 11 * math.ceil(len(lines) / 3)
    box = (46.0, 8.0, 284.0, 150.0)
    xr, yr = _pad(min(xs), max(xs)), _pad(min(ys), max(ys))
    body: list[str] = []
    x_name = str(spec.get("x") or "_step")
    x_label = {"_step": "step", "_runtime": "runtime (s)", "_timestamp": "wall time"}.get(x_name, x_name)
    _axes(body, box, xr, yr, x_label, str(spec.get("metric") or ""))
    sx, sy = _scale(xr, box[0], box[0] + box[2]), _scale(yr, box[1] + box[3], box[1])
    for i, (run, pts) in enumerate(lines):
        color = PALETTE[i % len(PALETTE)]
        segments: list[list[str]] = [[]]
        for x, y in pts:
            if y is None:
                segments.append([])
            else:
                segments[-1].append(f"{sx(x):.2f},{sy(y):.2f}")
        last = next((y for _, y in reversed(pts) if y is not None), None)
        body.append(f'<g data-run="{_e(run.get("id"))}" data-last="{_e(text_of(last))}">')
        for seg in segments:
            if len(seg) == 1:
                cx, cy = seg[0].split(",")
                body.append(f'<circle cx="{cx}" cy="{cy}" r="1.6" fill="{color}"/>')
            elif seg:
                body.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{color}" stroke-width="1.2"/>')
        body.append("</g>")
        lx, ly = 46 + (i % 3) * 98, 190 + (i // 3) * 11
        body.append(f'<rect x="{lx}" y="{ly - 5}" width="8" height="3" fill="{color}"/>'
                    f'<text x="{lx + 11}" y="{ly}">{_e(_short(run.get("name"), 17))}</text>')
    return _svg(width, height, body, figure=figure, label=f"{spec.get('metric')} over {x_name}")


def _bar_svg(spec: Mapping[str, Any], data: Mapping[str, Any], figure: bool) -> str | None:
    ranked = _ranked(data.get("runs") or [], str(spec.get("metric") or ""), str(spec.get("goal") or "min"))
    if not ranked:
        return None
    rows = ranked[:BAR_ROWS]
    values = [v for _, v in rows]
    lo, hi = min(0.0, *values), max(0.0, *values)
    width, row, label = 340.0, 14.0, 110.0
    at = _scale((lo, hi), label, width - 50)
    body = []
    for i, (run, value) in enumerate(rows):
        y = 4 + i * row
        x0, x1 = sorted((at(0.0), at(value)))
        body.append(f'<g data-run="{_e(run.get("id"))}" data-value="{_e(text_of(value))}">'
                    f'<text x="{label - 4}" y="{y + 9}" text-anchor="end">{_e(_short(run.get("name"), 20))}</text>'
                    f'<rect x="{x0:.2f}" y="{y + 1}" width="{max(0.5, x1 - x0):.2f}" height="{row - 4}" '
                    f'fill="{PALETTE[i % len(PALETTE)]}"/>'
                    f'<text x="{x1 + 3:.2f}" y="{y + 9}">{_e(text_of(value))}</text></g>')
    height = 4 + len(rows) * row + 16
    zero = f"{at(0.0):.2f}"
    body.append(f'<line x1="{zero}" x2="{zero}" y1="2" y2="{height - 14}" stroke="#666" stroke-width="0.6"/>'
                f'<text x="{label}" y="{height - 3}" fill="#444">{_e(spec.get("metric"))} '
                f'({"higher" if spec.get("goal") == "max" else "lower"} is better)'
                f'{f" · the best {len(rows)} of {len(ranked)} runs" if len(ranked) > len(rows) else ""}</text>')
    return _svg(width, height, body, figure=figure, label=f"{spec.get('metric')} by run")


def _scatter_svg(spec: Mapping[str, Any], data: Mapping[str, Any], figure: bool) -> str | None:
    param = str(spec.get("param") or "")
    pname = param if "." in param else "config." + param
    metric = str(spec.get("metric") or "")
    points = [(run, x, y) for run in data.get("runs") or []
              if (x := _finite(field_of(run, pname))) is not None and (y := _metric(run, metric)) is not None]
    if not points:
        return None
    box = (46.0, 8.0, 284.0, 160.0)
    xr = _pad(min(p[1] for p in points), max(p[1] for p in points))
    yr = _pad(min(p[2] for p in points), max(p[2] for p in points))
    body: list[str] = []
    _axes(body, box, xr, yr, param, str(spec.get("metric") or ""))
    sx, sy = _scale(xr, box[0], box[0] + box[2]), _scale(yr, box[1] + box[3], box[1])
    for i, (run, x, y) in enumerate(points):
        body.append(f'<circle data-run="{_e(run.get("id"))}" cx="{sx(x):.2f}" cy="{sy(y):.2f}" r="2.6" '
                    f'fill="{PALETTE[i % len(PALETTE)]}"><title>{_e(run.get("name"))}: {_e(text_of(x))}, '
                    f"{_e(text_of(y))}</title></circle>")
    return _svg(340, 200, body, figure=figure, label=f"{spec.get('metric')} against {param}")


def _parallel_svg(spec: Mapping[str, Any], data: Mapping[str, Any], figure: bool) -> str | None:
    columns = _columns(spec)
    runs = data.get("runs") or []
    if len(columns) < 2 or not runs:
        return None
    axes: list[tuple[str, list[float] | list[str]]] = []
    for c in columns:
        values = [field_of(r, c) for r in runs if field_of(r, c) is not None]
        numbers = [n for v in values if (n := _finite(v)) is not None]
        axes.append((c, [min(numbers), max(numbers)] if values and len(numbers) == len(values)
                     else sorted({text_of(v) for v in values})))
    width, height, top, bottom, left = 340.0, 190.0, 14.0, 28.0, 30.0
    step = (width - 2 * left) / (len(axes) - 1)

    def position(axis: list[float] | list[str], value: Any) -> float | None:
        if axis and isinstance(axis[0], float):
            n = _finite(value)
            lo, hi = float(axis[0]), float(axis[1])
            return None if n is None else (0.5 if hi == lo else (n - lo) / (hi - lo))
        text = text_of(value)
        names = [str(a) for a in axis]
        if value is None or text not in names:
            return None
        return 0.5 if len(names) == 1 else names.index(text) / (len(names) - 1)

    body = []
    for i, run in enumerate(runs):
        pts = [f"{left + j * step:.2f},{top + (1 - p) * (height - top - bottom):.2f}"
               for j, (c, axis) in enumerate(axes) if (p := position(axis, field_of(run, c))) is not None]
        body.append(f'<polyline data-run="{_e(run.get("id"))}" points="{" ".join(pts)}" fill="none" '
                    f'stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="1" opacity="0.85"/>')
    for j, (c, axis) in enumerate(axes):
        x = left + j * step
        hi_text = text_of(axis[-1]) if axis else ""
        lo_text = text_of(axis[0]) if axis else ""
        at = f"{x:.2f}"
        body.append(f'<line x1="{at}" x2="{at}" y1="{top}" y2="{height - bottom}" stroke="#444" stroke-width="0.7"/>'
                    f'<text x="{at}" y="{top - 4}" text-anchor="middle" fill="#444">{_e(_short(hi_text, 10))}</text>'
                    f'<text x="{at}" y="{height - bottom + 10}" text-anchor="middle" fill="#444">'
                    f"{_e(_short(lo_text, 10))}</text>"
                    f'<text x="{at}" y="{height - 4}" text-anchor="middle">{_e(_short(c, 20))}</text>')
    return _svg(width, height, body, figure=figure, label="parallel coordinates")


def _lineage_svg(spec: Mapping[str, Any], data: Mapping[str, Any], figure: bool) -> str | None:
    graph = data.get("lineage") or {}
    nodes, edges = graph.get("nodes") or [], graph.get("edges") or []
    if not nodes:
        return None
    incoming: dict[str, list[str]] = {}
    for e in edges:
        incoming.setdefault(e["to"], []).append(e["from"])
    layer: dict[str, int] = {}

    def depth(node: str, seen: frozenset[str]) -> int:
        if node in layer:
            return layer[node]
        if node in seen:
            return 0
        layer[node] = max((depth(p, seen | {node}) for p in incoming.get(node, [])), default=-1) + 1
        return layer[node]

    rows: dict[int, int] = {}
    at: dict[str, tuple[float, float]] = {}
    for n in nodes:
        d = depth(n["id"], frozenset())
        at[n["id"]] = (6 + d * 120, 6 + rows.get(d, 0) * 30)
        rows[d] = rows.get(d, 0) + 1
    body = [f'<line x1="{at[e["from"]][0] + 100}" y1="{at[e["from"]][1] + 10}" x2="{at[e["to"]][0]}" '
            f'y2="{at[e["to"]][1] + 10}" stroke="#889" stroke-width="0.8"/>'
            for e in edges if e["from"] in at and e["to"] in at]
    for n in nodes:
        x, y = at[n["id"]]
        label = n.get("ref") or (f"{n.get('name')}:v{n.get('version')}" if n.get("kind") == "artifact"
                                 else n.get("name"))
        run = n.get("kind") == "run"
        body.append(f'<g data-node="{_e(label)}"><rect x="{x}" y="{y}" width="100" height="20" rx="{10 if run else 2}" '
                    f'fill="{"#e6efff" if run else "#fff4d6"}" stroke="#99a" stroke-width="0.7"/>'
                    f'<text x="{x + 50}" y="{y + 13}" text-anchor="middle">{_e(_short(label, 18))}</text></g>')
    width = 12 + (max(layer.values()) + 1) * 120
    height = 12 + max(rows.values()) * 30
    return _svg(width, height, body, figure=figure, label="artifact lineage")


def _sweep_svg(spec: Mapping[str, Any], data: Mapping[str, Any], figure: bool) -> str | None:
    sweep = data.get("sweep") or {}
    metric = (sweep.get("config") or {}).get("metric") or {}
    maximize = metric.get("goal") == "maximize"
    points = [(float(t["number"]), v) for t in sweep.get("trials") or []
              if isinstance(t, Mapping) and (v := _finite(t.get("value"))) is not None]
    if not points:
        return None
    box = (46.0, 8.0, 284.0, 150.0)
    xr = _pad(min(p[0] for p in points), max(p[0] for p in points))
    yr = _pad(min(p[1] for p in points), max(p[1] for p in points))
    body: list[str] = []
    _axes(body, box, xr, yr, "trial", str(metric.get("name") or "value"))
    sx, sy = _scale(xr, box[0], box[0] + box[2]), _scale(yr, box[1] + box[3], box[1])
    best: float | None = None
    line = []
    for x, y in points:
        best = y if best is None else (max(best, y) if maximize else min(best, y))
        line.append(f"{sx(x):.2f},{sy(best):.2f}")
        body.append(f'<circle cx="{sx(x):.2f}" cy="{sy(y):.2f}" r="2.2" fill="#1f77b4"/>')
    body.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="#2ca02c" stroke-width="1.4"/>')
    return _svg(340, 190, body, figure=figure, label="sweep progress: each trial and the best so far")


_DRAW = {"line": _line_svg, "bar": _bar_svg, "scatter": _scatter_svg, "parallel": _parallel_svg,
         "lineage": _lineage_svg, "sweep": _sweep_svg}


def chart_svg(spec: Mapping[str, Any], data: Mapping[str, Any], *, figure: bool = True) -> str | None:
    """The panel's chart as an SVG document (``figure``: sized FIGURE_WIDTH_IN inches wide for LaTeX; else
    fluid for a page); None for panel types that are no chart, or when the payload has nothing to draw."""
    draw = _DRAW.get(str(spec.get("type")))
    return draw(spec, data, figure) if draw else None


# ----- HTML ---------------------------------------------------------------------------------------------------


def _md() -> Any:
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        raise ExportError("exporting a report needs markdown-it-py\nHint: pip install \"tracker[reports]\"") from None

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")
    md.validateLink = lambda url: bool(_SAFE_LINK.match(url.strip()))  # type: ignore[method-assign]

    def math_inline(state: Any, silent: bool) -> bool:
        src, start = state.src, state.pos
        if src[start] != "$":
            return False
        display = src.startswith("$$", start)
        mark = "$$" if display else "$"
        end = src.find(mark, start + len(mark))
        body = src[start + len(mark): end]
        if end < 0 or not body or (not display and (body[0].isspace() or body[-1].isspace())):
            return False
        if not silent:
            token = state.push("math_display" if display else "math_inline", "", 0)
            token.content = body
        state.pos = end + len(mark)
        return True

    md.inline.ruler.after("escape", "math", math_inline)
    md.add_render_rule("math_inline", lambda self, tokens, i, options, env:
                       f'<span class="math">{html.escape(tokens[i].content)}</span>')
    md.add_render_rule("math_display", lambda self, tokens, i, options, env:
                       f'<span class="math display">{html.escape(tokens[i].content)}</span>')
    return md


def markdown_html(text: str) -> str:
    """Markdown as safe HTML: raw HTML escaped, links only to http(s), mailto and relative addresses, math kept
    as its TeX source (no script runs to typeset it)."""
    return str(_md().render(text))


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1d2330;max-width:900px;
margin:24px auto;padding:0 18px}
h1{font-size:24px} .meta{color:#6b7385;font-size:12px;margin-bottom:18px}
pre{background:#f3f4f7;padding:8px;overflow:auto} code{background:#f3f4f7;padding:0 3px}
.math{font-family:"Latin Modern Math","STIX Two Math","Cambria Math",serif;font-style:italic}
.math.display{display:block;text-align:center;margin:8px 0}
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
        best = _best(spec, data)
        if best:
            run, value = best
            parts.append(f'<div class="scalar" data-value="{_e(text_of(value))}">{_e(text_of(value))}</div>'
                         f'<div class="muted">{"highest" if spec.get("goal") == "max" else "lowest"} '
                         f'{_e(spec.get("metric"))}: <b>{_e(run.get("name"))}</b> ({_e(run.get("id"))}), '
                         f"out of {len(runs)} {'run' if len(runs) == 1 else 'runs'}</div>")
            if kind == "best" and run.get("config"):
                parts.append("<div>" + ", ".join(f"<b>{_e(k)}</b>={_e(text_of(v))}" for k, v in run["config"].items())
                             + "</div>")
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
        columns = _columns(spec)
        rows = "".join("<tr>" + f"<td>{_e(r.get('name'))}</td><td>{_e(r.get('state'))}</td>"
                       + "".join(f'<td data-field="{_e(c)}">{_e(text_of(field_of(r, c)))}</td>' for c in columns)
                       + "</tr>" for r in runs)
        parts.append(f"<table><thead><tr><th>run</th><th>state</th>{''.join(f'<th>{_e(c)}</th>' for c in columns)}</tr>"
                     f"</thead><tbody>{rows}</tbody></table>")
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

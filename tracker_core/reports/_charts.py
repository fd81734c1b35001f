"""A report panel's data payload drawn as an SVG chart (line, bar, scatter, parallel coordinates, lineage, sweep
progress) and written as the CSV behind it; the values of runs as the page shows them. Pure functions of the
payload: nothing here reads a server or a file."""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["BAR_ROWS", "CHART_TYPES", "FIGURE_WIDTH_IN", "PALETTE", "best_of", "chart_svg", "columns_of", "field_of",
           "group_name", "grouped_rows", "panel_csv", "text_of"]

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
           "#0b3d91", "#b35806", "#00441b", "#67000d", "#3f007d", "#4d2a12", "#a6216e", "#252525", "#6b6b00", "#006d77"]
CHART_TYPES = frozenset({"line", "bar", "scatter", "parallel", "lineage", "sweep"})
"""Panel types drawn as a chart (an SVG); the others (table, scalar, best, images) are markup."""
BAR_ROWS = 25
"""A bar chart draws the best runs only (its CSV holds them all)."""
FIGURE_WIDTH_IN = 3.4
"""A chart file's width in inches: one column of a two-column paper (``\\includegraphics[width=\\columnwidth]``)."""


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


def best_of(spec: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[Mapping[str, Any], float] | None:
    best = data.get("best")
    if isinstance(best, Mapping) and (value := _finite(best.get("value"))) is not None:
        return best, value
    rows = _ranked(data.get("runs") or [], str(spec.get("metric") or ""), str(spec.get("goal") or "min"))
    return rows[0] if rows else None


def columns_of(spec: Mapping[str, Any]) -> list[str]:
    if spec.get("columns"):
        return [str(c) for c in spec["columns"]]
    out = []
    if spec.get("param"):
        out.append(spec["param"] if "." in spec["param"] else "config." + spec["param"])
    if spec.get("metric"):
        out.append(spec["metric"] if spec["metric"].startswith("summary.") else "summary." + spec["metric"])
    return out


def group_name(group: Mapping[str, Any]) -> str:
    """A group's name as drawn: its key, ``(none)`` for the runs without the group field."""
    key = group.get("key")
    return "(none)" if key is None else str(key)


def grouped_rows(data: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Mapping[str, Any] | None]]:
    """The runs with their group, each group's runs together (in the payload's order and group None when the run
    set is not grouped)."""
    runs = data.get("runs") or []
    if data.get("groups") is None:
        return [(run, None) for run in runs]
    by_id = {run.get("id"): run for run in runs}
    return [(by_id[run_id], group) for group in data["groups"] for run_id in group.get("runs") or [] if run_id in by_id]


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
    if kind == "line" and data.get("groups") is not None:
        out.writerow(["group", "runs", spec.get("x") or "_step", "mean", "min", "max", "count"])
        for group in data["groups"]:
            s = group.get("series") or {}
            for row in zip(s.get("x") or [], s.get("mean") or [], s.get("min") or [], s.get("max") or [],
                           s.get("count") or [], strict=False):
                out.writerow([group_name(group), group.get("count"), *(text_of(v) for v in row)])
    elif kind == "line":
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
        columns = columns_of(spec)
        grouped = data.get("groups") is not None
        out.writerow(["run_id", "run_name", "state", *(["group"] if grouped else []), *columns])
        for run, group in grouped_rows(data):
            values = [text_of(field_of(run, c)) for c in columns]
            out.writerow([run.get("id"), run.get("name"), run.get("state"),
                          *([group_name(group)] if group is not None else []), *values])
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


def _axes(body: list[str], box: tuple[float, float, float, float], xs: Sequence[float], ys: Sequence[float],
          xlabel: str, ylabel: str) -> tuple[Any, Any]:
    """Draw the frame, grid and labels of a plot of the (non-empty) ``xs`` and ``ys`` into ``body``; returns
    the x and y scales (value to SVG coordinate)."""
    left, top, w, h = box
    xr, yr = _pad(min(xs), max(xs)), _pad(min(ys), max(ys))
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
    return sx, sy


def _scale(domain: tuple[float, float], a: float, b: float) -> Any:
    lo, hi = domain
    if hi == lo:
        return lambda _v: (a + b) / 2
    return lambda v: a + (v - lo) / (hi - lo) * (b - a)


def _pad(lo: float, hi: float) -> tuple[float, float]:
    if lo == hi:
        return (lo - 1, hi + 1) if lo == 0 else (lo - abs(lo) * 0.1, hi + abs(hi) * 0.1)
    return lo, hi


def _runs_text(n: Any) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def _group_lines(data: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], list[tuple[float, float | None]],
                                                        list[tuple[float, float, float]]]]:
    """Each group of a grouped line panel: (group, its mean points, its (x, min, max) band)."""
    out = []
    for group in data.get("groups") or []:
        s = group.get("series") or {}
        points: list[tuple[float, float | None]] = []
        band: list[tuple[float, float, float]] = []
        for x, mean, low, high in zip(s.get("x") or [], s.get("mean") or [], s.get("min") or [], s.get("max") or [],
                                      strict=False):
            fx, fm, fl, fh = _finite(x), _finite(mean), _finite(low), _finite(high)
            if fx is None:
                continue
            points.append((fx, fm))
            if fl is not None and fh is not None:
                band.append((fx, fl, fh))
        if points:
            out.append((group, points, band))
    return out


def _line_svg(spec: Mapping[str, Any], data: Mapping[str, Any], figure: bool) -> str | None:
    """One line per run; for a grouped run set one line per group (its mean) over its min-max band."""
    lines: list[tuple[str, str, list[tuple[float, float | None]], list[tuple[float, float, float]]]]
    if data.get("groups") is not None:
        lines = [(f'data-group="{_e(group_name(g))}" data-count="{_e(g.get("count"))}"',
                  f"{group_name(g)} ({_runs_text(g.get('count'))})", pts, band) for g, pts, band in _group_lines(data)]
    else:
        lines = [(f'data-run="{_e(run.get("id"))}"', str(run.get("name")), pts, []) for run, pts in _lines(data)]
    xs = [x for _, _, pts, _ in lines for x, _ in pts]
    ys = [y for _, _, pts, band in lines for y in [*(y for _, y in pts), *(v for _, lo, hi in band for v in (lo, hi))]
          if y is not None]
    if not ys:
        return None
    width, height = 340.0, 200.0 + 11 * math.ceil(len(lines) / 3)
    box = (46.0, 8.0, 284.0, 150.0)
    body: list[str] = []
    x_name = str(spec.get("x") or "_step")
    x_label = {"_step": "step", "_runtime": "runtime (s)", "_timestamp": "wall time"}.get(x_name, x_name)
    sx, sy = _axes(body, box, xs, ys, x_label, str(spec.get("metric") or ""))
    for i, (attrs, name, pts, band) in enumerate(lines):
        color = PALETTE[i % len(PALETTE)]
        segments: list[list[str]] = [[]]
        for x, y in pts:
            if y is None:
                segments.append([])
            else:
                segments[-1].append(f"{sx(x):.2f},{sy(y):.2f}")
        last = next((y for _, y in reversed(pts) if y is not None), None)
        body.append(f'<g {attrs} data-last="{_e(text_of(last))}">')
        if len(band) > 1:
            outline = [f"{sx(x):.2f},{sy(hi):.2f}" for x, _, hi in band]
            outline += [f"{sx(x):.2f},{sy(lo):.2f}" for x, lo, _ in reversed(band)]
            body.append(f'<polygon class="band" points="{" ".join(outline)}" fill="{color}" fill-opacity="0.2" '
                        'stroke="none"/>')
        for seg in segments:
            if len(seg) == 1:
                cx, cy = seg[0].split(",")
                body.append(f'<circle cx="{cx}" cy="{cy}" r="1.6" fill="{color}"/>')
            elif seg:
                body.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{color}" stroke-width="1.2"/>')
        body.append("</g>")
        lx, ly = 46 + (i % 3) * 98, 190 + (i // 3) * 11
        body.append(f'<rect x="{lx}" y="{ly - 5}" width="8" height="3" fill="{color}"/>'
                    f'<text x="{lx + 11}" y="{ly}">{_e(_short(name, 17))}</text>')
    return _svg(width, height, body, figure=figure, label=f"{spec.get('metric')} over {x_name}")


def _group_bars(data: Mapping[str, Any], goal: str) -> list[tuple[Mapping[str, Any], float, float, float]]:
    """(group, mean, min, max) of each group with a summary value, best mean first."""
    rows = []
    for group in data.get("groups") or []:
        summary = group.get("summary") or {}
        mean = _finite(summary.get("mean"))
        if mean is not None:
            low, high = _finite(summary.get("min")), _finite(summary.get("max"))
            rows.append((group, mean, mean if low is None else low, mean if high is None else high))
    return sorted(rows, key=lambda row: -row[1] if goal == "max" else row[1])


def _bar_svg(spec: Mapping[str, Any], data: Mapping[str, Any], figure: bool) -> str | None:
    """One bar per run (the best BAR_ROWS); for a grouped run set one bar per group at its mean, with a min-max
    whisker."""
    goal = str(spec.get("goal") or "min")
    grouped = data.get("groups") is not None
    bars: list[tuple[str, str, float, float, float]]  # attributes, name, value, whisker low, whisker high
    if grouped:
        bars = [(f'data-group="{_e(group_name(g))}" data-count="{_e(g.get("count"))}"',
                 f"{group_name(g)} ({g.get('count')})", mean, low, high)
                for g, mean, low, high in _group_bars(data, goal)]
        total = len(bars)
    else:
        ranked = _ranked(data.get("runs") or [], str(spec.get("metric") or ""), goal)
        bars = [(f'data-run="{_e(run.get("id"))}"', str(run.get("name")), v, v, v) for run, v in ranked]
        total = len(bars)
    if not bars:
        return None
    rows = bars[:BAR_ROWS]
    lo = min(0.0, *(low for *_, low, _ in rows))
    hi = max(0.0, *(high for *_, high in rows))
    width, row, label = 340.0, 14.0, 110.0
    at = _scale((lo, hi), label, width - 50)
    body = []
    for i, (attrs, name, value, low, high) in enumerate(rows):
        y = 4 + i * row
        x0, x1 = sorted((at(0.0), at(value)))
        whisker = (f'<line class="whisker" x1="{at(low):.2f}" x2="{at(high):.2f}" y1="{y + row / 2 - 1}" '
                   f'y2="{y + row / 2 - 1}" stroke="#333" stroke-width="0.8"/>' if grouped else "")
        body.append(f'<g {attrs} data-value="{_e(text_of(value))}">'
                    f'<text x="{label - 4}" y="{y + 9}" text-anchor="end">{_e(_short(name, 20))}</text>'
                    f'<rect x="{x0:.2f}" y="{y + 1}" width="{max(0.5, x1 - x0):.2f}" height="{row - 4}" '
                    f'fill="{PALETTE[i % len(PALETTE)]}"/>{whisker}'
                    f'<text x="{max(x1, at(high)) + 3:.2f}" y="{y + 9}">{_e(text_of(value))}</text></g>')
    height = 4 + len(rows) * row + 16
    zero = f"{at(0.0):.2f}"
    what = "groups" if grouped else "runs"
    body.append(f'<line x1="{zero}" x2="{zero}" y1="2" y2="{height - 14}" stroke="#666" stroke-width="0.6"/>'
                f'<text x="{label}" y="{height - 3}" fill="#444">{"mean " if grouped else ""}{_e(spec.get("metric"))} '
                f'({"higher" if goal == "max" else "lower"} is better)'
                f'{f" · the best {len(rows)} of {total} {what}" if total > len(rows) else ""}</text>')
    return _svg(width, height, body, figure=figure, label=f"{spec.get('metric')} by {'group' if grouped else 'run'}")


def _scatter_svg(spec: Mapping[str, Any], data: Mapping[str, Any], figure: bool) -> str | None:
    param = str(spec.get("param") or "")
    pname = param if "." in param else "config." + param
    metric = str(spec.get("metric") or "")
    points = [(run, x, y) for run in data.get("runs") or []
              if (x := _finite(field_of(run, pname))) is not None and (y := _metric(run, metric)) is not None]
    if not points:
        return None
    box = (46.0, 8.0, 284.0, 160.0)
    body: list[str] = []
    sx, sy = _axes(body, box, [p[1] for p in points], [p[2] for p in points], param, str(spec.get("metric") or ""))
    for i, (run, x, y) in enumerate(points):
        body.append(f'<circle data-run="{_e(run.get("id"))}" cx="{sx(x):.2f}" cy="{sy(y):.2f}" r="2.6" '
                    f'fill="{PALETTE[i % len(PALETTE)]}"><title>{_e(run.get("name"))}: {_e(text_of(x))}, '
                    f"{_e(text_of(y))}</title></circle>")
    return _svg(340, 200, body, figure=figure, label=f"{spec.get('metric')} against {param}")


def _parallel_svg(spec: Mapping[str, Any], data: Mapping[str, Any], figure: bool) -> str | None:
    columns = columns_of(spec)
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
    body: list[str] = []
    sx, sy = _axes(body, box, [p[0] for p in points], [p[1] for p in points], "trial",
                   str(metric.get("name") or "value"))
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

// One report panel drawn from its data payload: the line chart is the UI's own uPlot Chart; bar, scatter and
// parallel coordinates are small SVGs; the runs table, best-run card, image grid, lineage and sweep progress
// are plain markup. Every run name and value is rendered as text (never as HTML).

import { useMemo, useState } from "preact/hooks";
import { axisPosition, bestOf, fieldOf, groupBars, groupedRows, groupLines, groupName, lines, panelColumns, parallelAxes, ranked, scatterPoints, ticks } from "../lib/panels";
import type { PanelData, PanelRun, PanelSpec } from "../lib/reports";
import type { Trial } from "../api";
import { sweepMetric, sweepParams } from "../lib/sweep";
import { display, formatNumber } from "../lib/values";
import { Chart } from "./Chart";
import { colorOf } from "./Charts";
import { ParallelCoordinates, TrialsChart } from "./SweepCharts";
import { StateBadge } from "./RunsTable";

const runCount = (n: number) => `${n} ${n === 1 ? "run" : "runs"}`;
const BAR_ROWS = 25;  // a bar chart shows the best runs; its CSV holds them all
const shortName = (s: string, n = 24) => (s.length > n ? s.slice(0, n - 1) + "…" : s);

type RunLink = (run: { id: string; project: string }) => string | null;

export function PanelBody({ spec, data, runLink }: { spec: PanelSpec; data: PanelData; runLink: RunLink }) {
  if (data.message && !data.runs.length && !data.lineage && !data.sweep) return <div class="panel-message" data-testid="panel-message">{data.message}</div>;
  const body = (() => {
    switch (spec.type) {
      case "line": return <LinePanel spec={spec} data={data} />;
      case "bar": return <BarPanel spec={spec} data={data} />;
      case "scalar": return <ScalarPanel spec={spec} data={data} />;
      case "table": return <TablePanel spec={spec} data={data} runLink={runLink} />;
      case "parallel": return <ParallelPanel spec={spec} data={data} />;
      case "scatter": return <ScatterPanel spec={spec} data={data} />;
      case "best": return <BestPanel spec={spec} data={data} runLink={runLink} />;
      case "images": return <ImagesPanel data={data} />;
      case "lineage": return <LineagePanel data={data} />;
      case "sweep": return <SweepPanel data={data} runLink={runLink} />;
      default: return <div class="panel-message">unknown panel type {String(spec.type)}</div>;
    }
  })();
  return <>{data.message && <div class="panel-message" data-testid="panel-message">{data.message}</div>}{body}</>;
}

function LinePanel({ spec, data }: { spec: PanelSpec; data: PanelData }) {
  const [range, setRange] = useState<[number, number] | null>(null);
  const runs = useMemo(() => {
    // grouped: one line per group (its mean) with the min–max band; else one line per run
    const drawn = data.groups ? groupLines(data).map(({ group, label, data: d }) => ({ id: "group:" + groupName(group), label, data: d }))
      : lines(data).map(({ run, data: d }) => ({ id: run.id, label: run.name, data: d }));
    return drawn.map(({ id, label, data: d }, i) => {
      if (!range) return { id, label, color: colorOf(i), data: d };
      const keep = d.x.map((x) => x >= range[0] && x <= range[1]);
      const pick = <T,>(values: T[]) => values.filter((_, j) => keep[j]);
      return { id, label, color: colorOf(i), data: { ...d, x: pick(d.x), y: pick(d.y), lo: d.lo && pick(d.lo), hi: d.hi && pick(d.hi) } };
    });
  }, [data, range]);
  const x = spec.x ?? "_step";
  return <Chart title={spec.metric ?? ""} runs={runs} xLabel={{ _step: "step", _timestamp: "wall time", _runtime: "runtime (s)" }[x] ?? x}
    time={x === "_timestamp"} log={false} smoothing={0} integerX={x === "_step"} onZoom={setRange} />;
}

function GroupBarPanel({ spec, data }: { spec: PanelSpec; data: PanelData }) {
  const rows = groupBars(data, spec.goal ?? "min");
  if (!rows.length) return <div class="panel-message">no group in this set has {spec.metric}</div>;
  const lo = Math.min(0, ...rows.map((r) => r.min)), hi = Math.max(0, ...rows.map((r) => r.max));
  const W = 560, label = 170, row = 22, plot = W - label - 110;
  const at = (v: number) => label + (hi === lo ? 0 : ((v - lo) / (hi - lo)) * plot);
  return <svg class="svg-chart" viewBox={`0 0 ${W} ${rows.length * row + 24}`} width="100%" data-testid="bar-chart" data-grouped="1">
    {rows.map(({ group, value, min, max }, i) => <g key={groupName(group)} data-group={groupName(group)} data-value={value} data-count={group.count}>
      <text x={label - 6} y={i * row + 15} text-anchor="end" font-size="12">{shortName(groupName(group))} ({group.count})</text>
      <rect x={Math.min(at(0), at(value))} y={i * row + 3} width={Math.max(1, Math.abs(at(value) - at(0)))} height={row - 6} fill={colorOf(i)} />
      <line x1={at(min)} x2={at(max)} y1={i * row + 11} y2={i * row + 11} stroke="#333" />
      <text x={Math.max(at(0), at(max)) + 4} y={i * row + 15} font-size="12">{formatNumber(value)}</text>
    </g>)}
    <line x1={at(0)} x2={at(0)} y1={0} y2={rows.length * row} stroke="#666" />
    <text x={label} y={rows.length * row + 18} font-size="11" fill="#666">mean {spec.metric} per group, min–max whisker ({spec.goal === "max" ? "higher" : "lower"} is better)</text>
  </svg>;
}

/** Each group's mean (min–max) of the panel's metric, under a scalar or best-run card of a grouped run set. */
function GroupSummaries({ data }: { data: PanelData }) {
  if (!data.groups) return null;
  return <div class="group-summaries">{data.groups.map((g) => <span key={groupName(g)} class="chip" data-group={groupName(g)}>
    <b>{groupName(g)}</b> ({runCount(g.count)}): {g.summary && g.summary.count > 0
      ? `mean ${formatNumber(Number(g.summary.mean))} (${formatNumber(Number(g.summary.min))}–${formatNumber(Number(g.summary.max))})` : "–"}
  </span>)}</div>;
}

function BarPanel({ spec, data }: { spec: PanelSpec; data: PanelData }) {
  if (data.groups) return <GroupBarPanel spec={spec} data={data} />;
  const all = ranked(data.runs, spec.metric ?? "", spec.goal ?? "min");
  if (!all.length) return <div class="panel-message">no run in this set has {spec.metric}</div>;
  const rows = all.slice(0, BAR_ROWS);
  const values = rows.map((r) => r.value);
  const lo = Math.min(0, ...values), hi = Math.max(0, ...values);
  const W = 560, label = 170, row = 22, plot = W - label - 70;
  const at = (v: number) => label + (hi === lo ? 0 : ((v - lo) / (hi - lo)) * plot);
  return <svg class="svg-chart" viewBox={`0 0 ${W} ${rows.length * row + 24}`} width="100%" data-testid="bar-chart">
    {rows.map(({ run, value }, i) => <g key={run.id} data-run={run.id} data-value={value}>
      <text x={label - 6} y={i * row + 15} text-anchor="end" font-size="12">{shortName(run.name)}</text>
      <rect x={Math.min(at(0), at(value))} y={i * row + 3} width={Math.max(1, Math.abs(at(value) - at(0)))} height={row - 6} fill={colorOf(i)} />
      <text x={Math.max(at(0), at(value)) + 4} y={i * row + 15} font-size="12">{formatNumber(value)}</text>
    </g>)}
    <line x1={at(0)} x2={at(0)} y1={0} y2={rows.length * row} stroke="#666" />
    <text x={label} y={rows.length * row + 18} font-size="11" fill="#666">{spec.metric} ({spec.goal === "max" ? "higher" : "lower"} is better){all.length > rows.length ? ` · the best ${rows.length} of ${all.length} runs (all in the CSV)` : ""}</text>
  </svg>;
}

function ScalarPanel({ spec, data }: { spec: PanelSpec; data: PanelData }) {
  const best = bestOf(spec, data);
  if (!best) return <div class="panel-message">no run in this set has {spec.metric}</div>;
  return <div class="scalar" data-testid="scalar" data-value={best.value}>
    <div class="scalar-value">{formatNumber(best.value)}</div>
    <div class="muted">{spec.goal === "max" ? "highest" : "lowest"} {spec.metric} · {best.run.name} · {runCount(data.runs.length)}</div>
    <GroupSummaries data={data} />
  </div>;
}

function TablePanel({ spec, data, runLink }: { spec: PanelSpec; data: PanelData; runLink: (run: PanelRun) => string | null }) {
  const columns = panelColumns(spec);
  const grouped = !!data.groups;
  return <div class="report-table"><table class="list" data-testid="runs-table">
    <thead><tr>{grouped && <th>group</th>}<th>run</th><th>state</th>{columns.map((c) => <th key={c}>{c}</th>)}</tr></thead>
    <tbody>{groupedRows(data).map(({ run, group }, i, rows) => { const href = runLink(run);
      const first = group !== null && rows[i - 1]?.group !== group;
      return <tr key={run.id} data-run={run.id} data-group={group ? groupName(group) : undefined} class={first ? "group-start" : undefined}>
        {grouped && <td>{first && group ? <b>{groupName(group)} ({runCount(group.count)})</b> : ""}</td>}
        <td>{href ? <a href={href}>{run.name}</a> : run.name}</td><td><StateBadge state={run.state} /></td>
        {columns.map((c) => <td key={c} data-field={c}>{display(fieldOf(run, c))}</td>)}
      </tr>; })}</tbody></table></div>;
}

function ParallelPanel({ spec, data }: { spec: PanelSpec; data: PanelData }) {
  const columns = panelColumns(spec);
  const axes = parallelAxes(data.runs, columns);
  if (axes.length < 2) return <div class="panel-message">a parallel-coordinates panel needs two columns or more</div>;
  const W = 640, H = 240, top = 24, bottom = 30, left = 50, step = (W - 2 * left) / (axes.length - 1);
  const y = (p: number) => top + (1 - p) * (H - top - bottom);
  return <svg class="svg-chart" viewBox={`0 0 ${W} ${H}`} width="100%" data-testid="parallel">
    {data.runs.map((run, i) => {
      const points = axes.map((a, j) => { const p = axisPosition(a, fieldOf(run, a.field)); return p === null ? null : `${left + j * step},${y(p)}`; });
      return <polyline key={run.id} data-run={run.id} points={points.filter(Boolean).join(" ")} fill="none" stroke={colorOf(i)} stroke-width="1.5" opacity="0.8" />;
    })}
    {axes.map((a, j) => <g key={a.field}>
      <line x1={left + j * step} x2={left + j * step} y1={top} y2={H - bottom} stroke="#444" />
      <text x={left + j * step} y={H - 10} text-anchor="middle" font-size="11">{shortName(a.field, 28)}</text>
      <text x={left + j * step + 4} y={top - 8} font-size="10" fill="#666">{a.kind === "number" ? formatNumber(a.max) : shortName(a.categories[a.categories.length - 1] ?? "", 12)}</text>
      <text x={left + j * step + 4} y={H - bottom + 12} font-size="10" fill="#666">{a.kind === "number" ? formatNumber(a.min) : shortName(a.categories[0] ?? "", 12)}</text>
    </g>)}
  </svg>;
}

function ScatterPanel({ spec, data }: { spec: PanelSpec; data: PanelData }) {
  const param = spec.param ?? "";
  const points = scatterPoints(data.runs, param, spec.metric ?? "");
  if (!points.length) return <div class="panel-message">no run in this set has both {param} and {spec.metric}</div>;
  const W = 560, H = 260, l = 60, r = 16, t = 12, b = 40;
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (v: number) => l + (x1 === x0 ? 0.5 : (v - x0) / (x1 - x0)) * (W - l - r);
  const sy = (v: number) => H - b - (y1 === y0 ? 0.5 : (v - y0) / (y1 - y0)) * (H - t - b);
  return <svg class="svg-chart" viewBox={`0 0 ${W} ${H}`} width="100%" data-testid="scatter">
    <line x1={l} x2={W - r} y1={H - b} y2={H - b} stroke="#666" /><line x1={l} x2={l} y1={t} y2={H - b} stroke="#666" />
    {ticks(x0, x1).map((v) => <text key={"x" + v} x={sx(v)} y={H - b + 14} font-size="10" text-anchor="middle" fill="#666">{formatNumber(v)}</text>)}
    {ticks(y0, y1).map((v) => <text key={"y" + v} x={l - 4} y={sy(v) + 3} font-size="10" text-anchor="end" fill="#666">{formatNumber(v)}</text>)}
    {points.map((p, i) => <circle key={p.run.id} data-run={p.run.id} cx={sx(p.x)} cy={sy(p.y)} r="4" fill={colorOf(i)}><title>{`${p.run.name}: ${param}=${formatNumber(p.x)}, ${spec.metric}=${formatNumber(p.y)}`}</title></circle>)}
    <text x={(W + l) / 2} y={H - 6} text-anchor="middle" font-size="11">{param}</text>
    <text x={12} y={H / 2} font-size="11" transform={`rotate(-90 12 ${H / 2})`} text-anchor="middle">{spec.metric}</text>
  </svg>;
}

function BestPanel({ spec, data, runLink }: { spec: PanelSpec; data: PanelData; runLink: (run: PanelRun) => string | null }) {
  const best = bestOf(spec, data);
  if (!best) return <div class="panel-message">no run in this set has {spec.metric}</div>;
  const href = runLink(best.run);
  const config = Object.entries(best.run.config ?? {});
  return <div class="best best-card" data-testid="best-card" data-run={best.run.id} data-value={best.value}>
    <div class="best-title">Best on <b>{spec.metric}</b> ({spec.goal === "max" ? "highest" : "lowest"}):{" "}
      {href ? <a href={href}><b>{best.run.name}</b></a> : <b>{best.run.name}</b>}
      <span class="value" data-testid="best-value">{formatNumber(best.value)}</span> <StateBadge state={best.run.state} /></div>
    {config.length > 0 && <div class="best-diff">{config.map(([k, v]) => <span key={k} class="chip"><b>{k}</b>={display(v)}</span>)}</div>}
    <div class="muted">out of {runCount(data.runs.length)}</div>
    <GroupSummaries data={data} />
  </div>;
}

function ImagesPanel({ data }: { data: PanelData }) {
  const images = data.images ?? [];
  if (!images.length) return <div class="panel-message">no images logged under this key</div>;
  return <div class="image-grid">{images.map((im, i) => <figure key={i} data-run={im.run_id}>
    <img src={im.url} alt={im.caption ?? ""} loading="lazy" /><figcaption>{im.caption ?? ""} <span class="muted">step {im.step ?? "–"}</span></figcaption>
  </figure>)}</div>;
}

/** Nodes in columns by their longest path from a source. */
export function layers(nodes: { id: string }[], edges: { from: string; to: string }[]): Map<string, number> {
  const incoming = new Map<string, string[]>();
  for (const e of edges) incoming.set(e.to, [...(incoming.get(e.to) ?? []), e.from]);
  const out = new Map<string, number>();
  const depth = (id: string, seen: Set<string>): number => {
    const known = out.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0;
    seen.add(id);
    const d = Math.max(-1, ...(incoming.get(id) ?? []).map((p) => depth(p, seen))) + 1;
    out.set(id, d);
    return d;
  };
  for (const n of nodes) depth(n.id, new Set());
  return out;
}

function LineagePanel({ data }: { data: PanelData }) {
  const graph = data.lineage;
  if (!graph || !graph.nodes.length) return <div class="panel-message">{data.message ?? "no lineage for this artifact"}</div>;
  const layer = layers(graph.nodes, graph.edges);
  const rows = new Map<number, number>();
  const at = new Map<string, { x: number; y: number }>();
  for (const n of graph.nodes) { const l = layer.get(n.id) ?? 0; const r = rows.get(l) ?? 0; rows.set(l, r + 1); at.set(n.id, { x: 10 + l * 190, y: 10 + r * 44 }); }
  const width = 20 + (Math.max(...layer.values()) + 1) * 190, height = 20 + Math.max(...rows.values()) * 44;
  return <svg class="svg-chart" viewBox={`0 0 ${width} ${height}`} width={Math.min(width, 900)} data-testid="lineage">
    {graph.edges.map((e) => { const a = at.get(e.from), b = at.get(e.to); if (!a || !b) return null;
      return <line key={e.from + ">" + e.to} x1={a.x + 150} y1={a.y + 14} x2={b.x} y2={b.y + 14} stroke="#889" />; })}
    {graph.nodes.map((n) => { const p = at.get(n.id)!; const label = n.kind === "artifact" ? (n.ref ?? `${n.name}:v${n.version ?? "?"}`) : n.name;
      return <g key={n.id} transform={`translate(${p.x},${p.y})`} data-node={label}>
        <rect width="150" height="28" rx={n.kind === "run" ? 14 : 3} fill={n.kind === "run" ? "#e6efff" : "#fff4d6"} stroke={graph.root === n.id ? "#d62728" : "#99a"} />
        <text x="75" y="18" text-anchor="middle" font-size="12">{shortName(label, 22)}</text></g>; })}
  </svg>;
}

/** The sweep's state and trial counts, then the sweep view's own charts: each trial's value with the best so
 * far, and the trials across their parameters (each line a link to its run). */
function SweepPanel({ data, runLink }: { data: PanelData; runLink: RunLink }) {
  const sweep = (data.sweep ?? {}) as Record<string, unknown>;
  const counts = (sweep.counts ?? {}) as Record<string, unknown>;
  const trials = (Array.isArray(sweep.trials) ? sweep.trials : []) as Trial[];
  const config = (sweep.config ?? {}) as Record<string, unknown>;
  const metric = sweepMetric(config);
  const params = sweepParams(config);
  return <div class="sweep-panel" data-testid="sweep" data-trials={trials.length}>
    <div><b>{String(sweep.name ?? sweep.id ?? "")}</b> <span class="muted">{String(sweep.method ?? "")}{metric ? ` · ${metric.name} (${metric.goal})` : ""}</span>{" "}
      <span class="badge">{String(sweep.state ?? "")}</span>{" "}
      {Object.entries(counts).map(([k, v]) => <span key={k} class="chip">{k}: {display(v)}</span>)}</div>
    {metric ? <>
      <TrialsChart trials={trials} metric={metric} />
      {params.length > 0 && <ParallelCoordinates trials={trials} params={params} metric={metric} runLink={(id) =>
        (typeof sweep.entity === "string" && typeof sweep.project === "string"
          ? runLink({ id, project: `${sweep.entity}/${sweep.project}` }) : null)} />}
    </> : <div class="muted">the sweep's config names no metric</div>}
  </div>;
}

// Selected runs side by side: config diff (differences highlighted), overlaid charts, parallel
// coordinates of config → metric and a scatter of a config value against a summary metric (Vega-Lite).
// Opened from a workspace scoped to a sweep, its link back keeps the scope (and the rest of the workspace's state).

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { get, runPath, type Run, sweep as getSweep } from "../api";
import { ChartSettings, Charts, colorOf } from "../components/Charts";
import { link } from "../lib/router";
import type { ViewState } from "../lib/urlstate";
import { display, flatten, toNumber } from "../lib/values";

export function Compare({ view }: { view: ViewState }) {
  const [runs, setRuns] = useState<Run[]>([]);
  const [sweepName, setSweepName] = useState("");
  useEffect(() => {  // the scope's name for the link back (its id until then, or if it cannot be read)
    setSweepName("");
    if (view.sweep) getSweep(view.entity, view.project, view.sweep).then((s) => setSweepName(s.name ?? "")).catch(() => setSweepName(""));
  }, [view.entity, view.project, view.sweep]);
  useEffect(() => {
    Promise.all(view.selected.map((id) => get<Run>(runPath(view.entity, view.project, id)))).then(setRuns);
  }, [view.selected.join(",")]);
  const table = useMemo(() => {
    const flat = runs.map((r) => flatten(r.config));
    const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))].sort();
    return keys.map((k) => ({ key: k, values: flat.map((f) => display(f[k])), differs: new Set(flat.map((f) => display(f[k]))).size > 1 }));
  }, [runs]);
  const numericConfig = table.filter((row) => row.differs && runs.every((r) => toNumber(flatten(r.config)[row.key]) !== null)).map((r) => r.key);
  const metrics = [...new Set(runs.flatMap((r) => Object.entries(flatten(r.summary)).filter(([, v]) => toNumber(v) !== null).map(([k]) => k)))].sort();
  const [xKey, setXKey] = useState("");
  const [yKey, setYKey] = useState("");
  const sx = xKey || numericConfig[0] || "";
  const sy = yKey || metrics.find((m) => !m.startsWith("_")) || "";
  if (view.selected.length >= 2 && runs.length < view.selected.length) return <div class="muted">loading runs…</div>;
  const back = link({ page: "workspace" });  // the workspace as it was: its sweep, filters, selection, settings
  if (view.selected.length < 2) return <div class="muted">Select at least two runs in the <a href={back}>workspace</a> to compare them.</div>;
  return <div class="compare">
    <h1><a href={back} data-testid="compare-back">{view.entity}/{view.project}{view.sweep && ` / sweep ${sweepName || view.sweep}`}</a>
      {" "}/ compare {runs.length} runs</h1>
    <h2>Config</h2>
    <table class="diff" data-testid="config-diff"><thead><tr><th>key</th>{runs.map((r, i) => <th key={r.id} style={{ color: colorOf(i) }}>{r.name}</th>)}</tr></thead>
      <tbody>{table.map((row) => <tr key={row.key} class={row.differs ? "differs" : ""}><th>{row.key}</th>{row.values.map((v, i) => <td key={i}>{v}</td>)}</tr>)}</tbody></table>
    <h2>Charts</h2>
    <ChartSettings view={view} stepMetrics={[]} />
    <Charts runs={runs} view={view} />
    <h2>Parallel coordinates</h2>
    <VegaLite spec={parallel(runs, numericConfig, sy)} />
    <h2>Scatter</h2>
    <div class="chart-settings">
      <label>x <select value={sx} onChange={(e) => setXKey((e.target as HTMLSelectElement).value)}>{table.map((r) => <option key={r.key} value={r.key}>config.{r.key}</option>)}</select></label>
      <label>y <select value={sy} onChange={(e) => setYKey((e.target as HTMLSelectElement).value)}>{metrics.map((m) => <option key={m} value={m}>summary.{m}</option>)}</select></label>
    </div>
    <VegaLite spec={{ width: 480, height: 300, data: { values: runs.map((r) => ({ run: r.name, x: flatten(r.config)[sx] ?? null, y: toNumber(flatten(r.summary)[sy]) })) },
      mark: { type: "point", filled: true, size: 80 }, encoding: { x: { field: "x", title: `config.${sx}` }, y: { field: "y", type: "quantitative", title: `summary.${sy}` },
        color: { field: "run", type: "nominal" }, tooltip: [{ field: "run" }, { field: "x" }, { field: "y" }] } }} />
  </div>;
}

function parallel(runs: Run[], config: string[], metric: string): Record<string, unknown> {
  const axes = [...config.map((k) => `config.${k}`), ...(metric ? [`summary.${metric}`] : [])];
  const rows = runs.flatMap((r) => axes.map((axis) => {
    const [tree, ...rest] = axis.split(".");
    const value = toNumber(flatten(tree === "config" ? r.config : r.summary)[rest.join(".")]);
    return { run: r.name, axis, value };
  }));
  return { width: Math.max(300, axes.length * 140), height: 260, data: { values: rows },
    transform: [{ joinaggregate: [{ op: "min", field: "value", as: "lo" }, { op: "max", field: "value", as: "hi" }], groupby: ["axis"] },
      { calculate: "datum.hi > datum.lo ? (datum.value - datum.lo) / (datum.hi - datum.lo) : 0.5", as: "norm" }],
    mark: { type: "line", point: true }, encoding: { x: { field: "axis", type: "nominal", sort: axes, title: null },
      y: { field: "norm", type: "quantitative", axis: null }, color: { field: "run", type: "nominal" }, detail: { field: "run" },
      tooltip: [{ field: "run" }, { field: "axis" }, { field: "value" }] } };
}

function VegaLite({ spec }: { spec: Record<string, unknown> }) {
  const box = useRef<HTMLDivElement>(null);
  const text = JSON.stringify(spec);
  useEffect(() => {
    let finalize: (() => void) | null = null;
    let cancelled = false;
    import("vega-embed").then(({ default: vegaEmbed }) => box.current && vegaEmbed(box.current, spec as never, { actions: false }))
      .then((result) => { if (result) { if (cancelled) result.finalize(); else finalize = result.finalize; } });
    return () => { cancelled = true; finalize?.(); };
  }, [text]);
  return <div ref={box} class="vega" />;
}

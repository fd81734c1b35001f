// Every metric of the given runs, one panel per key, arranged by key prefix (train/, val/, system/ ...).
// Each run's history comes from the server in min/max buckets for the panel's pixel width, re-fetched
// for a zoomed range (down to raw points); live records extend the lines without re-fetching.

import { useEffect, useMemo, useState } from "preact/hooks";
import { get, type Params, runPath, type Run } from "../api";
import { subscribe } from "../lib/live";
import { navigate } from "../lib/router";
import { appendPoints, type BucketSeries, type Drawable, fromBuckets } from "../lib/series";
import type { ViewState } from "../lib/urlstate";
import { toNumber } from "../lib/values";
import { Chart, type ChartRun } from "./Chart";

// Twenty distinct colours (the category-10 ones, then darker and lighter variants), so an overlay of 20 runs
// gives each its own.
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
  "#0b3d91", "#b35806", "#00441b", "#67000d", "#3f007d", "#4d2a12", "#a6216e", "#252525", "#6b6b00", "#006d77"];
export const colorOf = (i: number) => PALETTE[i % PALETTE.length]!;
/** Buckets for the pixel width: a panel is at most the window's width, in device pixels. */
const buckets = () => Math.min(4000, Math.max(400, Math.ceil(window.innerWidth * (window.devicePixelRatio || 1))));

interface History { x: string; bucketed?: boolean; series: Record<string, BucketSeries> }
type Loaded = Record<string, Record<string, Drawable>>;

const start = (run: Pick<Run, "created_at">) => run.created_at;

type RunRef = Pick<Run, "entity" | "project" | "id" | "created_at">;

/** A run's history request for the view (buckets for the panel width); null where it needs the run's start
 * time and ``run`` has none yet. */
export function historyRequest(run: RunRef, view: ViewState): [string, Params] | null {
  const relative = view.x === "_relative";
  if (relative && !run.created_at) return null;
  const offset = relative ? start(run) : 0;
  return [`${runPath(run.entity, run.project, run.id)}/history`, {
    x: relative ? "_timestamp" : view.x, buckets: buckets(), min_x: view.range ? view.range[0] + offset : undefined,
    max_x: view.range ? view.range[1] + offset : undefined }];
}

export function Charts({ runs, view, only, exclude }: { runs: Run[]; view: ViewState; only?: (key: string) => boolean; exclude?: (key: string) => boolean }) {
  const [loaded, setLoaded] = useState<Loaded>({});
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(true);
  const ids = runs.map((r) => r.id).join(",");
  const relative = view.x === "_relative";
  const serverX = relative ? "_timestamp" : view.x;

  useEffect(() => {
    const abort = new AbortController();
    setError("");
    setLoading(true);
    Promise.all(runs.map(async (run) => {
      const offset = relative ? start(run) : 0;
      const h = await get<History>(...historyRequest(run, view)!, abort.signal);
      const byKey: Record<string, Drawable> = {};
      for (const [key, b] of Object.entries(h.series)) {
        if (!b.count.length) continue;  // media and text keys have no numeric points
        const d = fromBuckets(b);
        byKey[key] = offset ? { ...d, x: d.x.map((v) => v - offset) } : d;
      }
      return [run.id, byKey] as const;
    })).then((entries) => { setLoaded(Object.fromEntries(entries)); setLoading(false); })
      .catch((e: Error) => { if (e.name !== "AbortError") setError(e.message); });
    return () => abort.abort();
  }, [ids, serverX, view.range?.[0], view.range?.[1]]);

  // Live: append new log records of the charted runs (nothing else is fetched again).
  const first = runs[0];
  useEffect(() => {
    if (!first || view.range) return;
    const wanted = new Map(runs.map((r) => [r.id, r]));
    return subscribe(first.entity, first.project, {
      record: (runId, record) => {
        const run = wanted.get(runId);
        if (!run || record.type !== "log") return;
        const data = (record.data ?? {}) as Record<string, unknown>;
        const t = typeof record.t === "number" ? record.t : 0;
        const step = typeof record.step === "number" ? record.step : null;
        const x = view.x === "_step" ? step : view.x === "_timestamp" ? t : relative ? t - start(run) : toNumber(data[view.x]);
        if (x === null || !Number.isFinite(x)) return;
        setLoaded((old) => {
          const mine = { ...(old[runId] ?? {}) };
          for (const [key, value] of Object.entries(data)) {
            const y = toNumber(value);
            if (y === null || key === view.x) continue;
            mine[key] = appendPoints(mine[key] ?? { x: [], y: [], lo: null, hi: null, bucketed: false }, [x], [Number.isFinite(y) ? y : null]);
          }
          return { ...old, [runId]: mine };
        });
      },
    }, runs.length === 1 ? first.id : undefined);
  }, [ids, view.x, view.range?.[0]]);

  const groups = useMemo(() => {
    const keys = new Set<string>();
    for (const byKey of Object.values(loaded)) for (const key of Object.keys(byKey)) keys.add(key);
    const byPrefix = new Map<string, string[]>();
    for (const key of [...keys].sort()) {
      if ((only && !only(key)) || (exclude && exclude(key)) || key === view.x) continue;
      const prefix = key.includes("/") ? key.slice(0, key.indexOf("/")) : "charts";
      byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), key]);
    }
    return [...byPrefix.entries()];
  }, [loaded, only, exclude, view.x]);

  if (error) return <div class="error">charts: {error}</div>;
  if (!runs.length) return <div class="muted">select runs to chart them</div>;
  const xLabel = { _step: "step", _timestamp: "wall time", _relative: "relative time (s)" }[view.x] ?? view.x;
  return <div class="charts">
    {groups.length === 0 && <div class="muted">{loading ? "loading charts…" : "no metrics logged yet"}</div>}
    {groups.map(([prefix, keys]) => <section key={prefix} class="chart-group">
      <h3>{prefix}/ <span class="muted">({keys.length})</span></h3>
      <div class="panels">
        {keys.map((key) => {
          const lines: ChartRun[] = [];
          runs.forEach((run, i) => { const d = loaded[run.id]?.[key]; if (d) lines.push({ id: run.id, label: run.name, color: colorOf(i), data: d }); });
          return <Chart key={key} title={key} runs={lines} xLabel={xLabel} time={view.x === "_timestamp"} log={view.log}
            smoothing={view.smoothing} integerX={view.x === "_step"} onZoom={(range) => navigate({ range }, true)} />;
        })}
      </div>
    </section>)}
  </div>;
}

export function ChartSettings({ view, stepMetrics }: { view: ViewState; stepMetrics: string[] }) {
  return <div class="chart-settings">
    <label>x-axis <select value={view.x} onChange={(e) => navigate({ x: (e.target as HTMLSelectElement).value, range: null })}>
      <option value="_step">step</option><option value="_timestamp">wall time</option><option value="_relative">relative time</option>
      {stepMetrics.map((m) => <option key={m} value={m}>{m}</option>)}
    </select></label>
    <label>smoothing <input type="range" min="0" max="0.99" step="0.01" value={view.smoothing}
      onInput={(e) => navigate({ smoothing: Number((e.target as HTMLInputElement).value) }, true)} /> {view.smoothing.toFixed(2)}</label>
    <label><input type="checkbox" checked={view.log} onChange={(e) => navigate({ log: (e.target as HTMLInputElement).checked })} /> log scale</label>
    {view.range && <span class="note">zoomed {view.range[0].toPrecision(4)}–{view.range[1].toPrecision(4)} <button class="link" onClick={() => navigate({ range: null })}>reset</button></span>}
  </div>;
}

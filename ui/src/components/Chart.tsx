// One metric panel: uPlot on a canvas; each run's line, its min/max band when bucketed, a readout of
// every run's value at the hovered x, drag to zoom (the caller re-fetches buckets for the new range).

import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { align, type Drawable, valueAt } from "../lib/series";
import { emaSmooth } from "../lib/smoothing";
import { formatNumber } from "../lib/values";

export interface ChartRun { id: string; label: string; color: string; data: Drawable }

interface Props {
  title: string;
  runs: ChartRun[];
  xLabel: string;
  time: boolean;
  log: boolean;
  smoothing: number;
  onZoom: (range: [number, number] | null) => void;
  integerX?: boolean;
}

export function Chart({ title, runs, xLabel, time, log, smoothing, onZoom, integerX = false }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [hover, setHover] = useState<number | null>(null);
  const zoom = useRef(onZoom);
  zoom.current = onZoom;
  const bucketed = runs.some((r) => r.data.bucketed);
  const points = runs.reduce((n, r) => n + r.data.x.length, 0);

  useEffect(() => {
    if (!box.current) return;
    const drawn = runs.map((r) => (smoothing > 0 ? { ...r.data, y: emaSmooth(r.data.y, smoothing) } : r.data));
    const { data, columns } = align(drawn);
    const series: uPlot.Series[] = [{ label: xLabel }];
    const bands: uPlot.Band[] = [];
    const index: Record<string, number> = {};
    columns.forEach((c, i) => {
      const run = runs[c.run]!;
      index[`${c.run}:${c.role}`] = i + 1;
      series.push(c.role === "line"
        ? { label: run.label, stroke: run.color, width: 1.5, spanGaps: true, points: { show: run.data.x.length < 60 } }
        : { label: `${run.label} ${c.role}`, stroke: run.color + "99", width: 1, spanGaps: true, points: { show: false } });
    });
    runs.forEach((_, r) => {
      const hi = index[`${r}:hi`];
      const lo = index[`${r}:lo`];
      if (hi && lo) bands.push({ series: [hi, lo], fill: runs[r]!.color + "44" });
    });
    const width = box.current.clientWidth || 480;
    const options: uPlot.Options = {
      width, height: 220, series, bands, legend: { show: false },
      scales: { x: { time }, y: { distr: log ? 3 : 1 } },
      axes: [{ stroke: "#666", grid: { stroke: "#eee" },
        ...(integerX ? { values: (_u: uPlot, ticks: number[]) => ticks.map((v) => (Number.isInteger(v) ? stepLabel(v) : "")) } : {}) }, { stroke: "#666", grid: { stroke: "#eee" }, size: 60 }],
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: {
        draw: [(u) => {  // what was drawn, for tests and benchmarks: the scales, the plot box, each run's newest value
          const panel = box.current?.parentElement;
          if (!panel) return;
          const d = panel.dataset;
          d.xmin = String(u.scales.x!.min); d.xmax = String(u.scales.x!.max);
          d.ymin = String(u.scales.y!.min); d.ymax = String(u.scales.y!.max);
          d.bbox = [u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height].join(",");
          d.last = runs.map((r) => { const y = r.data.y; return y.length ? String(y[y.length - 1] ?? "") : ""; }).join(",");
          d.drawn = String(runs.length);
        }],
        setCursor: [(u) => { const i = u.cursor.idx; setHover(i === null || i === undefined ? null : (u.data[0][i] ?? null)); }],
        setSelect: [(u) => {
          if (u.select.width < 3) return;
          const from = u.posToVal(u.select.left, "x");
          const to = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          zoom.current([from, to]);
        }],
      },
    };
    const aligned = (log ? data.map((col, i) => (i === 0 ? col : col.map((v) => (v !== null && v > 0 ? v : null)))) : data) as uPlot.AlignedData;
    plot.current?.destroy();
    plot.current = new uPlot(options, aligned, box.current);
    const observer = new ResizeObserver(() => {
      if (box.current && plot.current) plot.current.setSize({ width: box.current.clientWidth, height: 220 });
    });
    observer.observe(box.current);
    return () => { observer.disconnect(); plot.current?.destroy(); plot.current = null; };
  }, [runs, log, smoothing, time, xLabel, integerX]);

  return (
    <div class="panel" data-metric={title} data-series={runs.length} data-points={points} data-bucketed={bucketed ? "1" : "0"}>
      <div class="panel-head">
        <b>{title}</b>
        {bucketed && <span class="note" title="Each bucket keeps its min and max (the band) and its last value (the line); zoom in for raw points">min/max buckets</span>}
        <button class="link" onClick={() => zoom.current(null)} title="Show the whole range">reset zoom</button>
      </div>
      <div ref={box} class="plot" onDblClick={() => zoom.current(null)} />
      <div class="readout" data-x={hover ?? ""}>
        {hover === null ? <>{runs.map((r) => <span key={r.id} class="legend"><i style={{ background: r.color }} />{r.label}</span>)}
          <span class="muted">· hover for values, drag to zoom</span></> : <>
          <span class="muted">{xLabel} {time ? new Date(hover * 1000).toLocaleString() : formatNumber(hover)}</span>
          {runs.map((r) => {
            const at = valueAt(r.data, hover);
            return <span key={r.id} class="read" data-run={r.id} data-value={at?.y ?? ""}>
              <i style={{ background: r.color }} />{r.label}: {at && at.y !== null ? formatNumber(at.y) : "–"}
            </span>;
          })}
        </>}
      </div>
    </div>
  );
}

/** A step tick: 20000 as 20k, 1500000 as 1.5M. */
export function stepLabel(step: number): string {
  const size = Math.abs(step);
  if (size >= 1e6 && step % 1e5 === 0) return `${step / 1e6}M`;
  if (size >= 1e4 && step % 100 === 0) return `${step / 1e3}k`;
  return String(step);
}

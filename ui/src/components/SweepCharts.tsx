// A sweep's charts: each scored trial's metric against its start time with the best value so far (uPlot),
// the trials across their parameters and the metric (parallel coordinates, SVG, each line a link to its run), and
// parameter importance.

import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Importance, Trial } from "../api";
import { bestSoFar, makeAxis, paramValue, scored, type SweepMetric, type SweepParam, trialText } from "../lib/sweep";
import { formatNumber } from "../lib/values";

export function TrialsChart({ trials, metric }: { trials: Trial[]; metric: SweepMetric }) {
  const box = useRef<HTMLDivElement>(null);
  const points = bestSoFar(trials, metric.goal);
  useEffect(() => {
    if (!box.current || !points.length) return;
    const data: uPlot.AlignedData = [points.map((p) => p[0]), points.map((p) => p[1]), points.map((p) => p[2])];
    const options: uPlot.Options = {
      width: box.current.clientWidth || 600, height: 240, legend: { show: false },
      scales: { x: { time: true } },
      series: [{ label: "trial start" },
        { label: metric.name, stroke: "#4c78a8", paths: () => null, points: { show: true, size: 7, fill: "#4c78a8" } },
        { label: "best so far", stroke: "#2ca02c", width: 2, paths: uPlot.paths.stepped!({ align: 1 }), points: { show: false } }],
      axes: [{ stroke: "#666", grid: { stroke: "#eee" } }, { stroke: "#666", grid: { stroke: "#eee" }, size: 60 }],
      hooks: { draw: [(u) => {
        const d = box.current?.parentElement?.dataset;
        if (d) { d.points = String(u.data[0].length); d.best = String(points[points.length - 1]![2]); }
      }] },
    };
    const plot = new uPlot(options, data, box.current);
    const observer = new ResizeObserver(() => { if (box.current) plot.setSize({ width: box.current.clientWidth, height: 240 }); });
    observer.observe(box.current);
    return () => { observer.disconnect(); plot.destroy(); };
  }, [JSON.stringify(points), metric.name]);
  return <div class="panel" data-testid="trials-chart">
    <div class="panel-head"><b>{metric.name} by trial start</b>
      <span class="legend"><i class="dot" style={{ background: "#4c78a8" }} />trial</span>
      <span class="legend"><i style={{ background: "#2ca02c" }} />best so far ({metric.goal === "maximize" ? "highest" : "lowest"})</span></div>
    {points.length ? <div ref={box} class="plot" /> : <div class="muted pad">no finished trial has a value of {metric.name} yet</div>}
  </div>;
}

const WIDTH = 960, HEIGHT = 300, TOP = 34, BOTTOM = 26, SIDE = 70;

/** Red (worst) to green (best) by the metric; grey for trials without a value. */
function color(value: number | null, lo: number, hi: number, maximize: boolean): string {
  if (value === null) return "#c4cad6";
  const t = hi === lo ? 1 : (value - lo) / (hi - lo);
  const good = maximize ? t : 1 - t;
  return `hsl(${Math.round(good * 120)}, 65%, 42%)`;
}

/** One line per trial, a link to the trial's run where ``runLink`` gives one; hovering or focusing a line
 * highlights it and names the trial, its run and values above the chart (as text). */
export function ParallelCoordinates({ trials, params, metric, runLink }: {
  trials: Trial[]; params: SweepParam[]; metric: SweepMetric; runLink: (runId: string) => string | null;
}) {
  const [hovered, setHovered] = useState<number | null>(null);
  const axes = [...params.map((p) => makeAxis(p.name, trials.map((t) => paramValue(t.params, p.path)), p.categories, p.log)),
    makeAxis(metric.name, trials.filter(scored).map((t) => t.value), null, false)];
  const values = trials.filter(scored).map((t) => t.value!);
  const lo = Math.min(...values), hi = Math.max(...values);
  const x = (i: number) => (axes.length === 1 ? WIDTH / 2 : SIDE + (i * (WIDTH - 2 * SIDE)) / (axes.length - 1));
  const y = (p: number) => TOP + (1 - p) * (HEIGHT - TOP - BOTTOM);
  const maximize = metric.goal === "maximize";
  const lines = [...trials].sort((a, b) => Number(scored(a)) - Number(scored(b))).map((t) => {  // scored ones drawn on top
    const value = scored(t) ? t.value : null;
    const ys = axes.map((a, i) => a.position(i < params.length ? paramValue(t.params, params[i]!.path) : value));
    return { t, value, points: ys.map((p, i) => (p === null ? "" : `${x(i)},${y(p)}`)).filter(Boolean).join(" ") };
  });
  const shown = lines.find((l) => l.t.number === hovered);  // drawn again above all (moving its link would blur it)
  return <div class="panel" data-testid="parallel">
    <div class="panel-head"><b>Parameters and {metric.name}</b>
      {shown ? <span class="readout" data-testid="parallel-readout">{trialText(shown.t, params, metric)}</span>
        : <span class="muted">one line per trial, coloured from worst (red) to best (green); click a line to open its run</span>}</div>
    <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} class={hovered === null ? "parallel" : "parallel hovering"} role="group" aria-label="parallel coordinates"
      onMouseLeave={() => setHovered(null)}>
      {lines.map(({ t, value, points }) => {
        const text = trialText(t, params, metric);
        return <a key={t.number} data-trial={t.number} data-run={t.run_id} href={runLink(t.run_id) ?? undefined}
          aria-label={text} class={t.number === hovered ? "hovered" : ""} onMouseEnter={() => setHovered(t.number)}
          onFocus={() => setHovered(t.number)} onBlur={() => setHovered(null)}>
          <title>{text}</title>
          <polyline points={points} class="hit" />
          <polyline points={points} fill="none" stroke={color(value, lo, hi, maximize)}
            stroke-width={value === null ? 1 : 1.6} stroke-opacity={value === null ? 0.6 : 0.85} />
        </a>;
      })}
      {shown && <polyline points={shown.points} class="highlight" stroke={color(shown.value, lo, hi, maximize)} />}
      {axes.map((a, i) => <g key={a.name} data-axis={a.name}>
        <line x1={x(i)} x2={x(i)} y1={TOP} y2={HEIGHT - BOTTOM} stroke="#555" />
        <text x={x(i)} y={14} text-anchor="middle" class={i === axes.length - 1 ? "axis-name metric" : "axis-name"}>{a.name}</text>
        {a.ticks.map(([p, label]) => <text key={label + p} x={x(i) + 5} y={y(p) + 4} class="tick">{label}</text>)}
      </g>)}
    </svg>
  </div>;
}

export function ImportanceBars({ found }: { found: Importance | null }) {
  if (!found) return <div class="panel muted">computing parameter importance…</div>;
  if (!found.importances) return <div class="panel muted" data-testid="importance-note">{found.reason}</div>;
  const evaluator = found.evaluator === "fanova" ? "fANOVA" : "mean decrease impurity";
  return <div class="panel importance" data-testid="importance">
    <div class="panel-head"><b>Parameter importance</b><span class="muted">Optuna, {evaluator}, over {found.trials} finished trials</span></div>
    {Object.entries(found.importances).map(([name, share]) => <div key={name} class="bar-row" data-param={name} data-share={share}>
      <span class="bar-name" title={name}>{name}</span>
      <span class="bar"><i style={{ width: `${Math.max(0.5, share * 100)}%` }} /></span>
      <span class="bar-value">{formatNumber(Math.round(share * 1000) / 10)}%</span>
    </div>)}
  </div>;
}

// A report panel's data payload turned into what its chart draws (free of the DOM, so tested directly):
// the value of a field of a run, runs ranked on a metric, scatter points, parallel-coordinate axes, and the
// CSV behind each chart.

import type { PanelData, PanelGroup, PanelRun, PanelSpec } from "./reports";
import { type Drawable, fromRaw } from "./series";
import { display, flatten, toNumber } from "./values";

/** A run's value of a field: "config.lr", "summary.val/loss", "name", "state", "id", or a bare metric name. */
export function fieldOf(run: PanelRun, field: string): unknown {
  if (field === "name" || field === "state" || field === "id" || field === "project") return run[field];
  for (const head of ["config", "summary"] as const) {
    if (!field.startsWith(head + ".")) continue;
    const key = field.slice(head.length + 1);
    const tree = run[head] ?? {};
    if (key in tree) return tree[key];
    if (field in tree) return tree[field];
    return flatten(tree)[key];
  }
  const summary = run.summary ?? {};
  return field in summary ? summary[field] : flatten(summary)[field];
}

export const metricOf = (run: PanelRun, metric: string): number | null => {
  const n = toNumber(fieldOf(run, metric.startsWith("summary.") ? metric : "summary." + metric));
  return n === null || !Number.isFinite(n) ? null : n;
};

/** The runs that have a finite value of ``metric``, best first for ``goal`` (min when none is given). */
export function ranked(runs: PanelRun[], metric: string, goal: "min" | "max" = "min"): { run: PanelRun; value: number }[] {
  const out: { run: PanelRun; value: number }[] = [];
  for (const run of runs) { const value = metricOf(run, metric); if (value !== null) out.push({ run, value }); }
  return out.sort((a, b) => (goal === "max" ? b.value - a.value : a.value - b.value));
}

/** The panel's best run and value: the server's ``best`` when it sent one, else the top of ``ranked``. */
export function bestOf(spec: PanelSpec, data: PanelData): { run: PanelRun; value: number } | null {
  if (data.best) { const v = toNumber(data.best.value); if (v !== null) return { run: data.best, value: v }; }
  return ranked(data.runs, spec.metric ?? "", spec.goal ?? "min")[0] ?? null;
}

/** Each run's line from the payload's full history (runs without a series are left out). */
export function lines(data: PanelData): { run: PanelRun; data: Drawable }[] {
  const out: { run: PanelRun; data: Drawable }[] = [];
  for (const run of data.runs) {
    const s = data.series?.[run.id];
    if (s) out.push({ run, data: fromRaw(s) });
  }
  return out;
}

/** A group's name as drawn: its key ("(none)" for runs without the group field). */
export const groupName = (group: PanelGroup): string => group.key ?? "(none)";
const runsText = (n: number) => `${n} ${n === 1 ? "run" : "runs"}`;

/** A grouped line panel: one line per group (the mean at each x) with its min–max band, labelled with the
 * group's name and run count; groups without a series are left out. */
export function groupLines(data: PanelData): { group: PanelGroup; label: string; data: Drawable }[] {
  const out: { group: PanelGroup; label: string; data: Drawable }[] = [];
  for (const group of data.groups ?? []) {
    const s = group.series;
    if (!s || !s.x.length) continue;
    const mean = fromRaw({ x: s.x, y: s.mean });
    const lo = fromRaw({ x: s.x, y: s.min }).y, hi = fromRaw({ x: s.x, y: s.max }).y;
    out.push({ group, label: `${groupName(group)} (${runsText(group.count)})`, data: { ...mean, lo, hi } });
  }
  return out;
}

/** A grouped bar chart: one bar per group at its mean summary value (min and max alongside), best first. */
export function groupBars(data: PanelData, goal: "min" | "max" = "min"): { group: PanelGroup; value: number; min: number; max: number }[] {
  const out: { group: PanelGroup; value: number; min: number; max: number }[] = [];
  for (const group of data.groups ?? []) {
    const value = toNumber(group.summary?.mean);
    if (value === null || !Number.isFinite(value)) continue;
    out.push({ group, value, min: toNumber(group.summary?.min) ?? value, max: toNumber(group.summary?.max) ?? value });
  }
  return out.sort((a, b) => (goal === "max" ? b.value - a.value : a.value - b.value));
}

/** The runs in their groups' order (each group's runs together), with the group each run is in; null
 * groups when the run set is not grouped. */
export function groupedRows(data: PanelData): { run: PanelRun; group: PanelGroup | null }[] {
  if (!data.groups) return data.runs.map((run) => ({ run, group: null }));
  const byId = new Map(data.runs.map((run) => [run.id, run]));
  return data.groups.flatMap((group) => group.runs.flatMap((id) => { const run = byId.get(id); return run ? [{ run, group }] : []; }));
}

export interface Point { run: PanelRun; x: number; y: number }
export function scatterPoints(runs: PanelRun[], param: string, metric: string): Point[] {
  const out: Point[] = [];
  for (const run of runs) {
    const x = toNumber(fieldOf(run, param.includes(".") ? param : "config." + param));
    const y = metricOf(run, metric);
    if (x !== null && Number.isFinite(x) && y !== null) out.push({ run, x, y });
  }
  return out;
}

export interface Axis { field: string; kind: "number" | "category"; min: number; max: number; categories: string[] }

/** One axis per column: numeric ones span their values, the others list their distinct values in order. */
export function parallelAxes(runs: PanelRun[], columns: string[]): Axis[] {
  return columns.map((field) => {
    const values = runs.map((r) => fieldOf(r, field)).filter((v) => v !== undefined && v !== null);
    const numbers = values.map(toNumber).filter((n): n is number => n !== null && Number.isFinite(n));
    if (values.length && numbers.length === values.length) {
      return { field, kind: "number", min: Math.min(...numbers), max: Math.max(...numbers), categories: [] };
    }
    return { field, kind: "category", min: 0, max: 0, categories: [...new Set(values.map(display))].sort() };
  });
}

/** A run's position on an axis in [0, 1] (0 at the bottom), or null where it has no value. */
export function axisPosition(axis: Axis, value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (axis.kind === "number") {
    const n = toNumber(value);
    if (n === null || !Number.isFinite(n)) return null;
    return axis.max === axis.min ? 0.5 : (n - axis.min) / (axis.max - axis.min);
  }
  const i = axis.categories.indexOf(display(value));
  return i < 0 ? null : axis.categories.length === 1 ? 0.5 : i / (axis.categories.length - 1);
}

/** "Nice" ticks over [min, max] (about ``count``), for the SVG charts' axes. */
export function ticks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const raw = (max - min) / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9 && out.length < 50; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const cell = (value: unknown): string => {
  const text = typeof value === "string" ? value : value === undefined || value === null ? "" : display(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** The columns a panel shows for each run (table, parallel, bar, scatter...). */
export function panelColumns(spec: PanelSpec): string[] {
  if (spec.columns?.length) return spec.columns;
  const out: string[] = [];
  if (spec.param) out.push(spec.param.includes(".") ? spec.param : "config." + spec.param);
  if (spec.metric) out.push(spec.metric.startsWith("summary.") ? spec.metric : "summary." + spec.metric);
  return out;
}

/** The data behind a panel's chart as CSV: a line chart's points (run, x, y), else one row per run. */
export function panelCsv(spec: PanelSpec, data: PanelData): string {
  const rows: unknown[][] = [];
  if (spec.type === "line" && data.groups) {  // a grouped line: what it draws, each group's mean/min/max per x
    rows.push(["group", "runs", spec.x ?? "_step", "mean", "min", "max", "count"]);
    for (const g of data.groups) {
      const s = g.series;
      if (s) s.x.forEach((x, i) => rows.push([groupName(g), g.count, x, s.mean[i], s.min[i], s.max[i], s.count[i]]));
    }
  } else if (spec.type === "line") {
    rows.push(["run_id", "run_name", spec.x ?? "_step", spec.metric ?? "value"]);
    for (const { run, data: d } of lines(data)) d.x.forEach((x, i) => rows.push([run.id, run.name, x, d.y[i] ?? ""]));
  } else if (spec.type === "images") {
    rows.push(["run_id", "step", "caption", "url"]);
    for (const im of data.images ?? []) rows.push([im.run_id, im.step, im.caption ?? "", im.url]);
  } else {
    const columns = panelColumns(spec);
    const grouped = !!data.groups;
    rows.push(["run_id", "run_name", "state", ...(grouped ? ["group"] : []), ...columns]);
    for (const { run, group } of groupedRows(data)) {
      rows.push([run.id, run.name, run.state, ...(group ? [groupName(group)] : []), ...columns.map((c) => fieldOf(run, c))]);
    }
  }
  return rows.map((r) => r.map(cell).join(",")).join("\n") + "\n";
}

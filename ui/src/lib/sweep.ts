// A sweep's config read for its page: the metric and goal, the searched parameters (nested ones as "a.b"),
// the best value so far over the trials, each parallel-coordinates axis's scale, a trial's one-line summary, and
// the workspace's view of a sweep's runs.

import type { Trial } from "../api";
import { DEFAULTS, type ViewState } from "./urlstate";
import { display, formatNumber } from "./values";

export interface SweepMetric { name: string; goal: "minimize" | "maximize" }
export interface SweepParam { name: string; path: string[]; categories: unknown[] | null; log: boolean }

export function sweepMetric(config: Record<string, unknown>): SweepMetric | null {
  const metric = config.metric as { name?: unknown; goal?: unknown } | undefined;
  if (!metric || typeof metric.name !== "string" || !metric.name) return null;
  return { name: metric.name, goal: metric.goal === "maximize" ? "maximize" : "minimize" };
}

/** The searched parameters (constants left out), in the config's order. */
export function sweepParams(config: Record<string, unknown>, prefix: string[] = []): SweepParam[] {
  const found: SweepParam[] = [];
  for (const [key, spec] of Object.entries((config.parameters ?? {}) as Record<string, Record<string, unknown>>)) {
    if (!spec || typeof spec !== "object") continue;
    const path = [...prefix, key];
    if (spec.parameters && typeof spec.parameters === "object") { found.push(...sweepParams(spec, path)); continue; }
    if ("value" in spec || spec.distribution === "constant") continue;
    const categories = Array.isArray(spec.values) ? spec.values as unknown[] : null;
    const log = typeof spec.distribution === "string" && spec.distribution.includes("log");
    found.push({ name: path.join("."), path, categories, log });
  }
  return found;
}

export function paramValue(params: Record<string, unknown>, path: string[]): unknown {
  let node: unknown = params;
  for (const part of path) {
    if (!node || typeof node !== "object" || !(part in (node as object))) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

export const scored = (t: Trial): t is Trial & { value: number } =>
  t.state === "finished" && typeof t.value === "number" && Number.isFinite(t.value);

/** The scored trials by start time with the best value up to each: [start, value, best so far]. */
export function bestSoFar(trials: Trial[], goal: SweepMetric["goal"]): [number, number, number][] {
  const better = goal === "maximize" ? Math.max : Math.min;
  let best: number | null = null;
  return trials.filter(scored).sort((a, b) => a.created_at - b.created_at || a.number - b.number).map((t) => {
    best = best === null ? t.value : better(best, t.value);
    return [t.created_at, t.value, best];
  });
}

/** The best scored trial (ties: the earliest), or null. */
export function bestTrial(trials: Trial[], goal: SweepMetric["goal"]): Trial | null {
  let best: Trial | null = null;
  for (const t of trials.filter(scored))
    if (best === null || (goal === "maximize" ? t.value! > best.value! : t.value! < best.value!)) best = t;
  return best;
}

/** A trial in one line of text: its number, run, state, parameters and metric value (for text nodes only). */
export function trialText(t: Trial, params: SweepParam[], metric: SweepMetric): string {
  const value = scored(t) ? formatNumber(t.value) : "–";
  return `trial ${t.number} · run ${t.run_id} (${t.state}): `
    + [...params.map((p) => `${p.name}=${display(paramValue(t.params, p.path))}`), `${metric.name}=${value}`].join(", ");
}

/** The workspace scoped to a sweep (its ``sweep``, which the listing sends: the server knows the trials' runs):
 * the main metric the view's own, else the sweep's (minimize is "min"); the sort the view's own, else by the
 * main metric in its goal's direction. */
export function sweepWorkspace(view: ViewState, metric: SweepMetric | null): ViewState {
  const main = view.metric || (metric ? `${metric.goal === "maximize" ? "max" : "min"}:${metric.name}` : "");
  const [goal, ...name] = main.split(":");
  const sort = view.sort !== DEFAULTS.sort || !main ? view.sort : `${goal === "max" ? "-" : ""}summary.${name.join(":")}`;
  return { ...view, metric: main, sort };
}

export interface Axis { name: string; position: (value: unknown) => number | null; ticks: [number, string][] }

/** An axis mapping values to [0, 1] (0 at the bottom): categories evenly spaced, numbers linear or log. */
export function makeAxis(name: string, values: unknown[], categories: unknown[] | null, log: boolean): Axis {
  if (categories || values.some((v) => typeof v !== "number")) {
    const known = categories ? [...categories] : [];
    for (const v of values) if (v !== undefined && !known.some((k) => display(k) === display(v))) known.push(v);
    const at = (i: number) => (known.length === 1 ? 0.5 : i / (known.length - 1));
    return { name, ticks: known.map((k, i) => [at(i), display(k)]),
      position: (v) => { const i = known.findIndex((k) => display(k) === display(v)); return i < 0 ? null : at(i); } };
  }
  const numbers = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  const useLog = log && numbers.length > 0 && numbers.every((v) => v > 0);
  const f = (v: number) => (useLog ? Math.log10(v) : v);
  const lo = numbers.length ? Math.min(...numbers.map(f)) : 0;
  const hi = numbers.length ? Math.max(...numbers.map(f)) : 1;
  const span = hi - lo;
  const position = (v: unknown) => (typeof v !== "number" || !Number.isFinite(v) || (useLog && v <= 0) ? null
    : span === 0 ? 0.5 : (f(v) - lo) / span);
  const ticks: [number, string][] = numbers.length
    ? (span === 0 ? [[0.5, display(numbers[0])]] : [[0, display(useLog ? 10 ** lo : lo)], [1, display(useLog ? 10 ** hi : hi)]])
    : [];
  return { name, position, ticks };
}

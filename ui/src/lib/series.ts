// Chart data, kept columnar from the server to the canvas (uPlot's aligned arrays).

import { toNumber } from "./values";

export interface RawSeries { x: number[]; y: (number | null)[] }
export interface BucketSeries { x0: unknown[]; x1: unknown[]; first: unknown[]; last: unknown[]; min: unknown[]; max: unknown[]; count: number[] }

/** One drawable series: the line, and (for buckets) the min/max band around it. */
export interface Drawable { x: number[]; y: (number | null)[]; lo: (number | null)[] | null; hi: (number | null)[] | null; bucketed: boolean }

export function fromRaw(series: { x: unknown[]; y: unknown[] }): Drawable {
  const x: number[] = [];
  const y: (number | null)[] = [];
  for (let i = 0; i < series.x.length; i++) {
    const xi = toNumber(series.x[i]);
    if (xi === null || !Number.isFinite(xi)) continue;
    const yi = toNumber(series.y[i]);
    x.push(xi);
    y.push(yi === null || Number.isNaN(yi) ? null : yi);
  }
  return { x, y, lo: null, hi: null, bucketed: false };
}

/**
 * Buckets as W&B's full-fidelity mode draws them: the line goes through each bucket's last value
 * (at the x of that last point), and the band spans each bucket's min and max, so a single-step spike
 * is always visible. A bucket holding one point is drawn exactly.
 */
export function fromBuckets(b: BucketSeries): Drawable {
  const x: number[] = [];
  const y: (number | null)[] = [];
  const lo: (number | null)[] = [];
  const hi: (number | null)[] = [];
  let merged = false;
  for (let i = 0; i < b.count.length; i++) {
    const x1 = toNumber(b.x1[i]);
    if (x1 === null || !Number.isFinite(x1)) continue;
    const finite = (v: unknown) => { const n = toNumber(v); return n === null || !Number.isFinite(n) ? null : n; };
    if ((b.count[i] ?? 1) > 1) merged = true;
    x.push(x1);
    y.push(finite(b.last[i]));
    lo.push(finite(b.min[i]));
    hi.push(finite(b.max[i]));
  }
  return { x, y, lo, hi, bucketed: merged };
}

/** Append live points (already in x order, after the series' end) to a drawable. */
export function appendPoints(series: Drawable, x: number[], y: (number | null)[]): Drawable {
  const last = series.x.length ? series.x[series.x.length - 1]! : -Infinity;
  const nx = [...series.x];
  const ny = [...series.y];
  const nlo = series.lo ? [...series.lo] : null;
  const nhi = series.hi ? [...series.hi] : null;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!;
    if (!(xi > last)) continue;
    nx.push(xi);
    ny.push(y[i] ?? null);
    nlo?.push(y[i] ?? null);
    nhi?.push(y[i] ?? null);
  }
  return { ...series, x: nx, y: ny, lo: nlo, hi: nhi };
}

/**
 * Merge several series onto one sorted x axis (uPlot's aligned data): column 0 is x, then for each
 * series its line and, when it has a band, its low and high. A series without a point at some x gets null
 * there (the chart spans the gap).
 */
export function align(series: Drawable[]): { data: (number | null)[][]; columns: { run: number; role: "line" | "lo" | "hi" }[] } {
  const xs = new Set<number>();
  for (const s of series) for (const v of s.x) xs.add(v);
  const x = [...xs].sort((a, b) => a - b);
  const position = new Map<number, number>();
  x.forEach((v, i) => position.set(v, i));
  const data: (number | null)[][] = [x];
  const columns: { run: number; role: "line" | "lo" | "hi" }[] = [];
  series.forEach((s, run) => {
    const parts: ["line" | "lo" | "hi", (number | null)[]][] = [["line", s.y]];
    if (s.lo && s.hi) parts.push(["lo", s.lo], ["hi", s.hi]);
    for (const [role, values] of parts) {
      const column: (number | null)[] = new Array(x.length).fill(null);
      for (let i = 0; i < s.x.length; i++) column[position.get(s.x[i]!)!] = values[i] ?? null;
      data.push(column);
      columns.push({ run, role });
    }
  });
  return { data, columns };
}

/** The value of a series at the nearest x at or before ``at`` (hover readouts), or null. */
export function valueAt(series: Drawable, at: number): { x: number; y: number | null } | null {
  let low = 0;
  let high = series.x.length - 1;
  if (high < 0 || series.x[0]! > at) return null;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (series.x[mid]! <= at) low = mid; else high = mid - 1;
  }
  return { x: series.x[low]!, y: series.y[low] ?? null };
}

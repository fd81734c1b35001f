// The runs table's sort, in the browser, in the order the server's listing uses (tracker_core's
// sort_runs): ascending puts numbers first (ascending), then text, then runs without the field;
// descending puts text first, then numbers, each descending, then the rest. Ties keep creation order.

import { toNumber } from "./values";

export interface Sortable { id: string; created_at: number }

export function sortRuns<T extends Sortable>(runs: T[], order: string, value: (run: T, field: string) => unknown): T[] {
  const descending = order.startsWith("-");
  const field = order.replace(/^[+-]/, "");
  const keyed = runs.map((run) => {
    const raw = value(run, field);
    const number = toNumber(raw);  // booleans count as numbers, as in Python
    const rank = number !== null && !Number.isNaN(number) ? 0 : typeof raw === "string" ? 1 : 2;
    return { run, rank, number: number ?? 0, text: typeof raw === "string" ? raw : "" };
  });
  keyed.sort((a, b) => {
    const ra = descending && a.rank < 2 ? 1 - a.rank : a.rank;
    const rb = descending && b.rank < 2 ? 1 - b.rank : b.rank;
    if (ra !== rb) return ra - rb;
    let c = 0;
    if (a.rank === 0) c = a.number - b.number;
    else if (a.rank === 1) c = a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
    if (descending) c = -c;
    if (c !== 0) return c;
    return a.run.created_at - b.run.created_at || (a.run.id < b.run.id ? -1 : a.run.id > b.run.id ? 1 : 0);
  });
  return keyed.map((k) => k.run);
}

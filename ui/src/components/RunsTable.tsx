// The runs table: only the rows in view are rendered, so thousands of runs scroll without lag.

import { useMemo, useState } from "preact/hooks";
import type { Run } from "../api";
import { link, navigate } from "../lib/router";
import type { ViewState } from "../lib/urlstate";
import { display, flatten } from "../lib/values";

const ROW = 30;
const HEIGHT = 420;

export function fieldValue(run: Run, field: string): unknown {
  const dot = field.indexOf(".");
  const head = dot < 0 ? field : field.slice(0, dot);
  const rest = field.slice(dot + 1);
  if (head === "config" || head === "summary" || head === "meta") return flatten(run[head])[rest];
  if (field === "tags") return run.tags.join(", ");
  if (field === "group") return run.group;
  if (field === "job_type") return run.job_type;
  return (run as unknown as Record<string, unknown>)[field];
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`badge state-${state}`}>{state}</span>;
}

type Row = { kind: "run"; run: Run } | { kind: "group"; label: string; count: number };

export function RunsTable({ runs, view, fields, shown }: { runs: Run[]; view: ViewState; fields: string[]; shown: string[] }) {
  const [top, setTop] = useState(0);
  const selected = new Set(view.selected);
  const rows: Row[] = useMemo(() => {
    if (!view.group) return runs.map((run) => ({ kind: "run", run }));
    const groups = new Map<string, Run[]>();
    for (const run of runs) {
      const values = view.group === "tags" ? (run.tags.length ? run.tags : [""]) : [display(fieldValue(run, view.group))];
      for (const value of values) groups.set(value, [...(groups.get(value) ?? []), run]);
    }
    const out: Row[] = [];
    for (const [label, members] of [...groups.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
      out.push({ kind: "group", label: label || "(none)", count: members.length });
      for (const run of members) out.push({ kind: "run", run });
    }
    return out;
  }, [runs, view.group]);
  const first = Math.max(0, Math.floor(top / ROW) - 5);
  const last = Math.min(rows.length, first + Math.ceil(HEIGHT / ROW) + 10);
  const columns = ["name", "state", "created_at", ...shown];
  const sortBy = (field: string) => navigate({ sort: view.sort === "-" + field ? field : "-" + field });
  const toggle = (id: string) => navigate({ selected: selected.has(id) ? view.selected.filter((s) => s !== id) : [...view.selected, id] });
  const allSelected = runs.length > 0 && runs.every((r) => selected.has(r.id));
  const grid = `32px 220px 90px 150px ${shown.map(() => "minmax(110px, 1fr)").join(" ")}`;
  return <div class="runs-table">
    <div class="thead" style={{ gridTemplateColumns: grid }}>
      <span><input type="checkbox" title="select all" checked={allSelected}
        onChange={() => navigate({ selected: allSelected ? [] : runs.map((r) => r.id) })} /></span>
      {columns.map((c) => <span key={c} class="th" data-field={c}>
        <button class="link" disabled={c.startsWith("meta.")} onClick={() => sortBy(c === "state" ? "status" : c)}>
          {c}{sortMark(view.sort, c)}</button>
        {shown.includes(c) && <button class="link x" title="remove column"
          onClick={() => navigate({ columns: shown.filter((x) => x !== c) })}>×</button>}
      </span>)}
    </div>
    <div class="tbody" style={{ height: `${Math.min(HEIGHT, rows.length * ROW + 2)}px` }}
      onScroll={(e) => setTop((e.target as HTMLDivElement).scrollTop)}>
      <div style={{ height: `${rows.length * ROW}px`, position: "relative" }}>
        {rows.slice(first, last).map((row, i) => {
          const y = (first + i) * ROW;
          if (row.kind === "group") return <div key={"g" + row.label} class="group-row" style={{ top: `${y}px` }}>
            {view.group}: <b>{row.label}</b> <span class="muted">({row.count})</span></div>;
          const run = row.run;
          return <div key={run.id} class="tr" data-run={run.id} style={{ top: `${y}px`, gridTemplateColumns: grid }}>
            <span><input type="checkbox" checked={selected.has(run.id)} onChange={() => toggle(run.id)} /></span>
            <span class="name"><a href={link({ page: "run", run: run.id, tab: "overview", range: null })}>{run.name}</a>
              {run.tags.map((t) => <span key={t} class="tag">{t}</span>)}</span>
            <span><StateBadge state={run.state} /></span>
            <span class="muted" title={new Date(run.created_at * 1000).toLocaleString()}>{when(run.created_at)}</span>
            {shown.map((c) => <span key={c} class="cell" data-field={c}>{display(fieldValue(run, c))}</span>)}
          </div>;
        })}
      </div>
    </div>
    <div class="table-foot">
      <span class="muted" data-testid="run-count">{runs.length} {runs.length === 1 ? "run" : "runs"}</span>
      <AddColumn fields={fields.filter((f) => !shown.includes(f))} onAdd={(f) => navigate({ columns: [...shown, f] })} />
      <label>group by <select value={view.group} onChange={(e) => navigate({ group: (e.target as HTMLSelectElement).value })}>
        <option value="">nothing</option><option value="group">group</option><option value="job_type">job type</option>
        <option value="tags">tag</option>
        {fields.filter((f) => f.startsWith("config.")).map((f) => <option key={f} value={f}>{f}</option>)}
      </select></label>
    </div>
  </div>;
}

function AddColumn({ fields, onAdd }: { fields: string[]; onAdd: (field: string) => void }) {
  return <label>add column <select value="" onChange={(e) => { const v = (e.target as HTMLSelectElement).value; if (v) onAdd(v); }}>
    <option value="">choose…</option>
    {fields.map((f) => <option key={f} value={f}>{f}</option>)}
  </select></label>;
}

function sortMark(sort: string, column: string): string {
  const field = column === "state" ? "status" : column;
  return sort === field ? " ▲" : sort === "-" + field ? " ▼" : "";
}

function when(stamp: number): string {
  const d = new Date(stamp * 1000);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleDateString() + " " + d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

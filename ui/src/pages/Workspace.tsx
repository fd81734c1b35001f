// A project's workspace: the best run on the main metric, the runs table, and charts of the selected runs.
// Opened on a sweep (``?sweep=ID``, the sweep page's link) it shows that sweep's runs (the server's listing scoped
// to the sweep: no list of run ids in the request), its metric the default main metric and sort.

import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiFailure, get, type Params, prefetch, runPath, type Run, sweep as getSweep, type SweepInfo, sweepPath, sweeps } from "../api";
import { ChartSettings, Charts, historyRequest } from "../components/Charts";
import { fieldValue, RunsTable, StateBadge } from "../components/RunsTable";
import { sortRuns } from "../lib/sort";
import { subscribe } from "../lib/live";
import { link, navigate } from "../lib/router";
import { sweepMetric, sweepWorkspace } from "../lib/sweep";
import type { ViewState } from "../lib/urlstate";
import { display, flatten, formatNumber } from "../lib/values";

interface Metric { name: string; goal: "min" | "max" | null; step_metric: string | null }
interface Best { run: Run | null; value: number | null; step: number | null }

const DEFAULT_CHARTED = 10;
const LIMIT = 100_000;  // runs read at once; beyond it the server sorts and pages

const failure = (e: Error) => (e instanceof ApiFailure ? `${e.code}: ${e.message}` : e.message);

export function Workspace({ view: chosen }: { view: ViewState }) {
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState("");
  const [metrics, setMetrics] = useState<Metric[]>([]);
  const [reload, setReload] = useState(0);
  const [scope, setScope] = useState<SweepInfo | null>(null);
  const base = runPath(chosen.entity, chosen.project);
  const sweep = chosen.sweep && scope?.id === chosen.sweep ? scope : null;
  const waiting = !!chosen.sweep && !sweep;  // the sweep (its metric: the default sort) is not read yet
  const view = sweep ? sweepWorkspace(chosen, sweepMetric(sweep.config)) : chosen;

  useEffect(() => {  // the sweep's name and metric; its runs are the listing's (scoped to it by the server)
    if (!chosen.sweep) { setScope(null); return; }
    getSweep(chosen.entity, chosen.project, chosen.sweep).then(setScope)
      .catch((e: Error) => setError(`sweep ${chosen.sweep}: ${failure(e)}`));
  }, [base, chosen.sweep]);

  useEffect(() => {
    if (waiting) return;
    setError("");
    get<{ runs: Run[]; total: number }>(...listingRequest(view))
      .then((r) => { setRuns(r.runs); setTotal(r.total); })
      .catch((e: Error) => setError(failure(e)));
  }, [base, view.filters.join("\n"), view.sweep, total > LIMIT ? view.sort : "", reload, waiting]);  // all runs here: sorted in the browser

  const sorted = useMemo(() => (runs ? sortRuns(runs, view.sort, (run, field) => fieldValue(run, field === "status" ? "state" : field)) : null),
    [runs, view.sort]);

  useEffect(() => {
    get<{ metrics: Metric[] }>(`/api/v1/metrics/${encodeURIComponent(view.entity)}/${encodeURIComponent(view.project)}`)
      .then((m) => setMetrics(m.metrics)).catch(() => setMetrics([]));
  }, [view.entity, view.project, reload]);

  // Live: a new run or a state change re-reads the (filtered, sorted) listing, at most once a second.
  // Opened once the listing is here, so the stream's first poll of every run does not delay it.
  const listed = runs !== null;
  useEffect(() => {
    if (!listed) return;
    let timer: number | undefined;
    const stop = subscribe(view.entity, view.project, {
      run: () => { if (timer === undefined) timer = window.setTimeout(() => { timer = undefined; setReload((n) => n + 1); }, 1000); },
    });
    return () => { stop(); window.clearTimeout(timer); };
  }, [view.entity, view.project, listed]);
  const main = mainMetric(view, metrics);

  const fields = useMemo(() => {
    const found = new Set<string>();
    for (const run of (runs ?? []).slice(0, 500)) {
      for (const k of Object.keys(flatten(run.config))) found.add("config." + k);
      for (const [k, v] of Object.entries(flatten(run.summary))) if (!(v && typeof v === "object" && "$m" in v)) found.add("summary." + k);
      for (const k of ["host", "pid"]) if (k in run.meta) found.add("meta." + k);
    }
    return [...found].sort();
  }, [runs]);

  const charted = useMemo(() => {
    if (!runs) return [];
    const all = sorted ?? runs;
    return view.selected.length ? all.filter((r) => view.selected.includes(r.id)) : all.slice(0, DEFAULT_CHARTED);
  }, [sorted, view.selected.join(",")]);

  return <div class="workspace">
    <h1><a href={link({ page: "projects", project: "", selected: [], filters: [] })}>{view.entity}</a> / {view.project}
      {sweep && <> / sweep <a href={link({ page: "sweep", sweep: sweep.id })}>{sweep.name || sweep.id}</a></>}</h1>
    {!waiting && <BestBanner view={view} main={main} chosen={!!chosen.metric} runs={runs ?? []} fields={fields} />}
    <ProjectSweeps view={view} reload={reload} />
    <Filters view={chosen} sweep={sweep} />
    {error && <div class="error" data-testid="error">{error}</div>}
    {runs === null ? !error && <div class="muted">loading runs…</div> : <>
      {total > runs.length && <div class="note">showing {runs.length} of {total}</div>}
      <RunsTable runs={sorted ?? runs} view={view} fields={fields} shown={view.columns.length ? view.columns : defaultColumns(runs, main)} />
      <div class="actions">
        {view.selected.length >= 2 && <a class="button" href={link({ page: "compare" })}>compare {view.selected.length} runs</a>}
        {view.selected.length > 0 && <button onClick={() => navigate({ selected: [] })}>clear selection</button>}
      </div>
      <h2>Charts <span class="muted">{view.selected.length ? `${charted.length} selected ${charted.length === 1 ? "run" : "runs"}` : `first ${charted.length} runs (select runs to choose)`}</span></h2>
      <ChartSettings view={view} stepMetrics={metrics.map((m) => m.step_metric).filter((m): m is string => !!m)} />
      <Charts runs={charted} view={view} />
    </>}
  </div>;
}

/** The listing's request: every run of the project (of its sweep, when scoped; filtered), sorted in the browser
 * from there on. */
export function listingRequest(view: ViewState): [string, Params] {
  return [runPath(view.entity, view.project), { filters: view.filters, sweep: view.sweep, order: view.sort, limit: LIMIT }];
}

/** The requests a workspace link makes first, started at page load (see ``prefetch``). */
export function prefetchWorkspace(view: ViewState): void {
  if (view.sweep) prefetch(sweepPath(view.entity, view.project, view.sweep));  // its listing's sort is its metric's
  else prefetch(...listingRequest(view));
  for (const id of view.selected) {
    const request = historyRequest({ entity: view.entity, project: view.project, id, created_at: 0 }, view);
    if (request) prefetch(...request);
  }
}

/** The project's sweeps, each a link to its page (nothing when it has none). */
function ProjectSweeps({ view, reload }: { view: ViewState; reload: number }) {
  const [list, setList] = useState<SweepInfo[]>([]);
  useEffect(() => { sweeps(view.entity, view.project).then(setList).catch(() => setList([])); }, [view.entity, view.project, reload]);
  if (!list.length) return null;
  const shown = list.slice(-5).reverse();
  return <div class="project-sweeps" data-testid="project-sweeps"><b>Sweeps</b>
    {shown.map((s) => <a key={s.id} class="chip" data-sweep={s.id} href={link({ page: "sweep", sweep: s.id, run: "" })}>
      {s.name || s.id} <StateBadge state={s.state} /> <span class="muted">{Object.values(s.counts).reduce((a, b) => a + b, 0)} trials</span></a>)}
    <a href={link({ page: "sweeps", sweep: "", run: "" })}>{list.length > shown.length ? `all ${list.length} sweeps` : "sweeps list"}</a>
  </div>;
}

/** The filter input and the view's filters as removable chips, the sweep it is scoped to first. */
function Filters({ view, sweep }: { view: ViewState; sweep: SweepInfo | null }) {
  const [text, setText] = useState("");
  return <div class="filters">
    <form onSubmit={(e) => { e.preventDefault(); if (text.trim()) { navigate({ filters: [...view.filters, text.trim()] }); setText(""); } }}>
      <input name="filter" placeholder="filter: config.lr<1e-3, summary.val/acc>=0.9, status=finished, tags=x, name~^bert"
        value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
      <button type="submit">add filter</button>
    </form>
    {sweep && <span class="chip" data-testid="sweep-filter">sweep: {sweep.name || sweep.id}
      <button class="link x" title="all the project's runs" onClick={() => navigate({ sweep: "" })}>×</button></span>}
    {view.filters.map((f) => <span key={f} class="chip" data-filter={f}>{f}
      <button class="link x" onClick={() => navigate({ filters: view.filters.filter((x) => x !== f) })}>×</button></span>)}
  </div>;
}

function mainMetric(view: ViewState, metrics: Metric[]): Metric | null {
  if (view.metric) {
    const [goal, ...name] = view.metric.split(":");
    return { name: name.join(":"), goal: goal as "min" | "max", step_metric: null };
  }
  return metrics.find((m) => m.goal) ?? null;
}

/** The main metric and goal selects; ``chosen``: the link names them (then "auto" goes back to the default). */
function MetricChooser({ main, chosen, fields }: { main: Metric | null; chosen: boolean; fields: string[] }) {
  const names = fields.filter((f) => f.startsWith("summary.")).map((f) => f.slice(8));
  const goal = main?.goal ?? "max";
  return <span class="chooser">
    <select title="main metric" value={main?.name ?? ""} onChange={(e) => navigate({ metric: `${goal}:${(e.target as HTMLSelectElement).value}` })}>
      {!main && <option value="">main metric…</option>}
      {[...new Set([...(main ? [main.name] : []), ...names])].map((n) => <option key={n} value={n}>{n}</option>)}
    </select>
    <select title="goal" value={goal} disabled={!main} onChange={(e) => main && navigate({ metric: `${(e.target as HTMLSelectElement).value}:${main.name}` })}>
      <option value="max">highest</option><option value="min">lowest</option>
    </select>
    {chosen && <button class="link" onClick={() => navigate({ metric: "" })} title="use the sweep's metric, else the runs' define_metric goal">auto</button>}
  </span>;
}

function BestBanner({ view, main, chosen, runs, fields }: { view: ViewState; main: Metric | null; chosen: boolean; runs: Run[]; fields: string[] }) {
  const [best, setBest] = useState<Best | null>(null);
  useEffect(() => {
    if (!main) { setBest(null); return; }
    get<Best>(`/api/v1/best/${encodeURIComponent(view.entity)}/${encodeURIComponent(view.project)}`,
      { metric: main.name, goal: main.goal ?? "min", filters: view.filters, sweep: view.sweep })
      .then(setBest).catch(() => setBest(null));
  }, [main?.name, main?.goal, view.filters.join("\n"), view.sweep, runs]);
  if (!main) return <div class="best muted">No main metric yet: choose one <MetricChooser main={main} chosen={chosen} fields={fields} /> or call{" "}
    <code>define_metric("val/acc", goal="max")</code> in a run.</div>;
  if (!best?.run) return <div class="best muted">No run has logged {main.name} yet. <MetricChooser main={main} chosen={chosen} fields={fields} /></div>;
  const run = best.run;
  const diff = configDiff(run, runs);
  return <div class="best" data-testid="best" data-run={run.id}>
    <div class="best-title">Best run on <b>{main.name}</b> ({main.goal === "max" ? "highest" : "lowest"}):{" "}
      <a href={link({ page: "run", run: run.id, tab: "overview" })}><b>{run.name}</b></a>{" "}
      <span class="value" data-testid="best-value">{best.value === null ? "" : formatNumber(best.value)}</span>
      {best.step !== null && <span class="muted"> at step {best.step}</span>} <StateBadge state={run.state} />
      <MetricChooser main={main} chosen={chosen} fields={fields} /></div>
    {diff.length > 0 && <div class="best-diff">differs from most runs in: {diff.slice(0, 8).map(([k, mine, usual]) =>
      <span key={k} class="chip"><b>{k}</b>={mine} <span class="muted">(most: {usual})</span></span>)}</div>}
  </div>;
}

/** The config keys where ``run`` differs from the most common value among ``runs``. */
function configDiff(run: Run, runs: Run[]): [string, string, string][] {
  const mine = flatten(run.config);
  const counts = new Map<string, Map<string, number>>();
  for (const other of runs) for (const [k, v] of Object.entries(flatten(other.config))) {
    const seen = counts.get(k) ?? new Map<string, number>();
    const text = display(v);
    seen.set(text, (seen.get(text) ?? 0) + 1);
    counts.set(k, seen);
  }
  const out: [string, string, string][] = [];
  for (const [k, v] of Object.entries(mine)) {
    const seen = counts.get(k);
    if (!seen) continue;
    const usual = [...seen.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    if (usual !== display(v)) out.push([k, display(v), usual]);
  }
  return out;
}

/** Without chosen columns: the main metric, then the config keys whose values vary (at most 4). */
function defaultColumns(runs: Run[], main: Metric | null): string[] {
  const varying: string[] = [];
  const seen = new Map<string, Set<string>>();
  for (const run of runs.slice(0, 500)) for (const [k, v] of Object.entries(flatten(run.config))) {
    const values = seen.get(k) ?? new Set<string>();
    values.add(display(v));
    seen.set(k, values);
  }
  for (const [k, values] of seen) if (values.size > 1 && varying.length < 4) varying.push("config." + k);
  return [...(main ? ["summary." + main.name] : []), ...varying];
}

// A project's sweeps, and one sweep: its state, method, metric and trial counts; its trials over time with
// the best so far; parallel coordinates; Optuna's parameter importance; the trials table linking to runs; a link
// to the workspace over the sweep's runs.
// Live: a run of the project that appears or changes re-reads the sweep (its trials are runs), and a sweep
// with running trials is read again every few seconds.

import { useEffect, useState } from "preact/hooks";
import { ApiFailure, importance, type Importance, sweep as getSweep, sweeps as getSweeps, type SweepInfo, type Trial, trials as getTrials } from "../api";
import { ImportanceBars, ParallelCoordinates, TrialsChart } from "../components/SweepCharts";
import { StateBadge } from "../components/RunsTable";
import { subscribe } from "../lib/live";
import { link } from "../lib/router";
import { bestTrial, paramValue, sweepMetric, sweepParams } from "../lib/sweep";
import type { ViewState } from "../lib/urlstate";
import { display, formatNumber } from "../lib/values";

const POLL_MS = 3000;

const failure = (e: Error) => (e instanceof ApiFailure ? `${e.code}: ${e.message}` : e.message);
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
const sweepLink = (id: string) => link({ page: "sweep", sweep: id, run: "", tab: "overview" });
const runLink = (id: string) => link({ page: "run", run: id, sweep: "", tab: "overview" });

/** Re-read on the project's run events (at most once a second) and, while ``polling``, every few seconds. */
function useLive(view: ViewState, polling: boolean): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let timer: number | undefined;
    const stop = subscribe(view.entity, view.project, {
      run: () => { if (timer === undefined) timer = window.setTimeout(() => { timer = undefined; setTick((n) => n + 1); }, 1000); },
    });
    return () => { stop(); window.clearTimeout(timer); };
  }, [view.entity, view.project]);
  useEffect(() => {
    if (!polling) return;
    const every = window.setInterval(() => setTick((n) => n + 1), POLL_MS);
    return () => window.clearInterval(every);
  }, [polling]);
  return tick;
}

export function SweepsList({ view }: { view: ViewState }) {
  const [list, setList] = useState<SweepInfo[] | null>(null);
  const [error, setError] = useState("");
  const tick = useLive(view, !!list?.some((s) => s.state === "running"));
  useEffect(() => { getSweeps(view.entity, view.project).then(setList).catch((e: Error) => setError(failure(e))); }, [view.entity, view.project, tick]);
  return <div class="sweeps">
    <h1><a href={link({ page: "workspace", sweep: "" })}>{view.entity}/{view.project}</a> / sweeps</h1>
    {error && <div class="error">{error}</div>}
    {list === null ? !error && <div class="muted">loading sweeps…</div> : <SweepsTable list={list} />}
  </div>;
}

export function SweepsTable({ list }: { list: SweepInfo[] }) {
  return <table class="list" data-testid="sweeps"><thead><tr><th>sweep</th><th>state</th><th>method</th><th>metric</th><th>trials</th><th>created</th></tr></thead>
    <tbody>{list.map((s) => {
      const metric = sweepMetric(s.config);
      return <tr key={s.id} data-sweep={s.id}>
        <td><a href={sweepLink(s.id)}>{s.name || s.id}</a> {s.name && <span class="muted">{s.id}</span>}</td>
        <td><StateBadge state={s.state} /></td><td>{s.method}</td>
        <td>{metric ? `${metric.name} (${metric.goal})` : <span class="muted">none</span>}</td>
        <td>{total(s.counts)} <span class="muted">{countsText(s.counts)}</span></td>
        <td>{new Date(s.created_at * 1000).toLocaleString()}</td></tr>;
    })}
    {list.length === 0 && <tr><td class="muted" colSpan={6}>no sweeps in this project yet: <code>tracker sweep sweep.yaml -p PROJECT</code></td></tr>}
    </tbody></table>;
}

function countsText(counts: Record<string, number>): string {
  return Object.entries(counts).sort().map(([state, n]) => `${n} ${state}`).join(", ");
}

export function SweepPage({ view }: { view: ViewState }) {
  const [info, setInfo] = useState<SweepInfo | null>(null);
  const [rows, setRows] = useState<Trial[]>([]);
  const [found, setFound] = useState<Importance | null>(null);
  const [error, setError] = useState("");
  const tick = useLive(view, !!info && (info.state === "running" || (info.counts.running ?? 0) > 0));
  useEffect(() => {
    Promise.all([getSweep(view.entity, view.project, view.sweep), getTrials(view.entity, view.project, view.sweep)])
      .then(([s, t]) => { setInfo(s); setRows(t); setError(""); }).catch((e: Error) => setError(failure(e)));
  }, [view.entity, view.project, view.sweep, tick]);
  const finished = rows.filter((t) => t.state === "finished").length;
  useEffect(() => {  // asked again only when a trial ended
    importance(view.entity, view.project, view.sweep).then(setFound)
      .catch((e: Error) => setFound({ importances: null, trials: 0, reason: `parameter importance could not be read: ${failure(e)}` }));
  }, [view.entity, view.project, view.sweep, finished]);
  if (error && !info) return <div class="error" data-testid="error">{error}</div>;
  if (!info) return <div class="muted">loading sweep…</div>;
  const metric = sweepMetric(info.config);
  const params = sweepParams(info.config);
  const best = metric ? bestTrial(rows, metric.goal) : null;
  const cap = typeof info.config.run_cap === "number" ? info.config.run_cap : null;
  return <div class="sweep-page" data-sweep={info.id} data-trials={rows.length}>
    <h1><a href={link({ page: "workspace", sweep: "" })}>{view.entity}/{view.project}</a> / <a href={link({ page: "sweeps", sweep: "" })}>sweeps</a> / {info.name || info.id} <StateBadge state={info.state} /></h1>
    {error && <div class="error">{error}</div>}
    <dl class="facts sweep-facts">
      <dt>sweep</dt><dd>{info.id}</dd>
      <dt>state</dt><dd data-testid="sweep-state">{info.state}</dd>
      <dt>method</dt><dd>{info.method}{info.config.early_terminate ? " with early termination (hyperband)" : ""}</dd>
      <dt>metric</dt><dd>{metric ? <>{metric.name} <span class="muted">({metric.goal})</span></> : <span class="muted">none</span>}</dd>
      <dt>trials</dt><dd data-testid="counts">{total(info.counts)}{cap !== null ? ` of run_cap ${cap}` : ""}
        {total(info.counts) > 0 && <span class="muted"> · {countsText(info.counts)}</span>}{" "}
        <a data-testid="sweep-runs" href={link({ page: "workspace", sweep: info.id, run: "" })}>open its runs in the workspace</a></dd>
      {best && metric && <><dt>best</dt><dd data-testid="sweep-best">{formatNumber(best.value!)} <span class="muted">trial {best.number}, run</span>{" "}
        <a href={runLink(best.run_id)}>{best.run_id}</a></dd></>}
      <dt>created</dt><dd>{new Date(info.created_at * 1000).toLocaleString()}</dd>
    </dl>
    {metric ? <>
      <div class="sweep-charts">
        <TrialsChart trials={rows} metric={metric} />
        <ImportanceBars found={found} />
      </div>
      {params.length > 0 && <ParallelCoordinates trials={rows} params={params} metric={metric} runLink={runLink} />}
    </> : <div class="note">This sweep's config names no metric: no best trial, chart or importance.</div>}
    <h2>Trials <span class="muted">{rows.length}</span></h2>
    <TrialsTable trials={rows} params={params.map((p) => p.name)} paths={params.map((p) => p.path)} metric={metric?.name ?? null} best={best?.number ?? null} />
  </div>;
}

function TrialsTable({ trials, params, paths, metric, best }: { trials: Trial[]; params: string[]; paths: string[][]; metric: string | null; best: number | null }) {
  return <table class="list trials" data-testid="trials"><thead><tr><th>#</th><th>state</th>{params.map((p) => <th key={p}>{p}</th>)}
    {metric && <th>{metric}</th>}<th>run</th><th>started</th></tr></thead>
    <tbody>{[...trials].reverse().map((t) => <tr key={t.number} data-trial={t.number} class={t.number === best ? "best-trial" : ""}>
      <td>{t.number}</td><td><StateBadge state={t.state} /></td>
      {paths.map((path, i) => <td key={params[i]}>{display(paramValue(t.params, path))}</td>)}
      {metric && <td class="num">{t.value === null ? "" : formatNumber(t.value)}</td>}
      <td><a href={runLink(t.run_id)}>{t.run_id}</a></td>
      <td>{new Date(t.created_at * 1000).toLocaleTimeString()}</td></tr>)}
    {trials.length === 0 && <tr><td class="muted" colSpan={params.length + 5}>no trials yet: start an agent with <code>tracker agent SWEEP_ID</code></td></tr>}
    </tbody></table>;
}

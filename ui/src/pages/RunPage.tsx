// One run: overview (state and its reason, provenance, config, summary), charts, system metrics,
// console output, media by step.

import { useEffect, useState } from "preact/hooks";
import { ApiFailure, fileUrl, get, runPath, send, type Run } from "../api";
import { ChartSettings, Charts } from "../components/Charts";
import { Media } from "../components/Media";
import { useLineage, versionLabel } from "./Artifacts";
import { StateBadge } from "../components/RunsTable";
import { subscribe } from "../lib/live";
import { link } from "../lib/router";
import type { ViewState } from "../lib/urlstate";
import { display, flatten } from "../lib/values";

const TABS = ["overview", "charts", "system", "console", "media", "artifacts"] as const;
const isSystem = (key: string) => key.startsWith("system/");

export function RunPage({ view }: { view: ViewState }) {
  const [run, setRun] = useState<Run | null>(null);
  const [error, setError] = useState("");
  const path = runPath(view.entity, view.project, view.run);
  useEffect(() => {
    get<Run>(path).then(setRun).catch((e: Error) => setError(e.message));
    return subscribe(view.entity, view.project, { run: (changed) => { if (changed.id === view.run) setRun(changed); } }, view.run);
  }, [path]);
  if (error) return <div class="error">{error}</div>;
  if (!run) return <div class="muted">loading…</div>;
  return <div class="run-page" data-run={run.id}>
    <h1><a href={link({ page: "workspace", run: "", tab: "overview" })}>{view.entity}/{view.project}</a> / {run.name} <StateBadge state={run.state} /></h1>
    <nav class="tabs">{TABS.map((t) => <a key={t} class={view.tab === t ? "active" : ""} href={link({ tab: t })}>{t}</a>)}</nav>
    {view.tab === "overview" && <Overview run={run} onSaved={setRun} />}
    {view.tab === "charts" && <><ChartSettings view={view} stepMetrics={[]} /><Charts runs={[run]} view={view} exclude={isSystem} /></>}
    {view.tab === "system" && <Charts runs={[run]} view={{ ...view, x: "_step" }} only={isSystem} />}
    {view.tab === "console" && <Console run={run} />}
    {view.tab === "media" && <Media run={run} />}
    {view.tab === "artifacts" && <RunArtifacts run={run} />}
  </div>;
}

function reason(run: Run): string {
  if (run.state === "failed") return `failed with exit code ${run.exit_code ?? "?"}`;
  if (run.state === "killed") return `killed by ${run.signal ?? "a signal"}${run.preempted ? " (preempted)" : ""}`;
  if (run.state === "crashed") return "crashed: the process died without a word (its heartbeat is stale)";
  if (run.state === "finished") return `finished (exit code ${run.exit_code ?? 0})`;
  return run.state;
}

function duration(run: Run): string {
  const end = run.ended_at ?? run.heartbeat_at ?? run.updated_at;
  const seconds = Math.max(0, end - run.created_at);
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = Math.round(seconds % 60);
  return h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}

function Overview({ run, onSaved }: { run: Run; onSaved: (run: Run) => void }) {
  const [provenance, setProvenance] = useState<Record<string, unknown> | null>(null);
  const [alerts, setAlerts] = useState<Record<string, unknown>[]>([]);
  useEffect(() => {
    // Only these two kinds, wherever they are in the run: provenance is written when its background
    // collection ends, after however many log records came first.
    get<{ records: Record<string, unknown>[] }>(`${runPath(run.entity, run.project, run.id)}/records`,
      { types: ["provenance", "alert"], limit: 10_000 })
      .then((r) => {
        // A resumed run has one per attempt: the latest describes the process that runs it now.
        const found = r.records.filter((x) => x.type === "provenance");
        setProvenance((found[found.length - 1]?.data as Record<string, unknown>) ?? null);
        setAlerts(r.records.filter((x) => x.type === "alert"));
      }).catch(() => setProvenance(null));
  }, [run.id]);
  const command = provenance?.command;
  const git = provenance?.git as Record<string, unknown> | undefined;
  const host = provenance?.host as Record<string, unknown> | undefined;
  const packages = provenance?.packages as Record<string, string> | undefined;
  return <div class="overview">
    <dl class="facts">
      <dt>state</dt><dd data-testid="state">{reason(run)}</dd>
      <dt>host</dt><dd>{run.host}</dd>
      <dt>started</dt><dd>{new Date(run.created_at * 1000).toLocaleString()}</dd>
      <dt>duration</dt><dd>{duration(run)}</dd>
      {run.group && <><dt>group</dt><dd>{run.group}</dd></>}
      {typeof run.meta.sweep === "string" && <><dt>sweep</dt><dd data-testid="run-sweep">
        <a href={link({ page: "sweep", sweep: run.meta.sweep, run: "", tab: "overview" })}>{run.meta.sweep}</a>
        {typeof run.meta.sweep_trial === "number" && <span class="muted"> trial {run.meta.sweep_trial}</span>}</dd></>}
      {run.job_type && <><dt>job type</dt><dd>{run.job_type}</dd></>}
      {Array.isArray(command) && <><dt>command</dt><dd><code data-testid="provenance-command">{command.join(" ")}</code></dd></>}
      {git && <><dt>git</dt><dd><code>{display(git.commit)}</code>{git.dirty ? " (dirty)" : ""} {display(git.remote)}</dd></>}
      {host && <><dt>hardware</dt><dd>{display(host.os)} · {display(host.cpu_count)} CPUs {host.gpus ? "· " + display(host.gpus) : ""}</dd></>}
      {packages && <><dt>packages</dt><dd><details><summary>{Object.keys(packages).length} installed</summary>
        <div class="packages">{Object.entries(packages).map(([k, v]) => <span key={k}>{k}=={v} </span>)}</div></details></dd></>}
    </dl>
    {run.traceback && <pre class="traceback" data-testid="traceback">{run.traceback}</pre>}
    {git && typeof git.diff === "string" && git.diff && <details><summary>uncommitted diff</summary><pre>{git.diff}</pre></details>}
    {alerts.length > 0 && <><h3>Alerts</h3><ul data-testid="alerts">{alerts.map((a, i) => <li key={i}>{display(a.level)} <b>{display(a.title)}</b> {display(a.text)}</li>)}</ul></>}
    <Edit run={run} onSaved={onSaved} />
    <div class="two">
      <KeyValues title="Config" tree={run.config} />
      <KeyValues title="Summary" tree={run.summary} />
    </div>
  </div>;
}

function KeyValues({ title, tree }: { title: string; tree: Record<string, unknown> }) {
  const flat = Object.entries(flatten(tree));
  return <div><h3>{title}</h3><table class="kv" data-testid={title.toLowerCase()}><tbody>
    {flat.map(([k, v]) => <tr key={k}><th>{k}</th><td>{display(v)}</td></tr>)}
    {!flat.length && <tr><td class="muted">empty</td></tr>}</tbody></table></div>;
}

function Edit({ run, onSaved }: { run: Run; onSaved: (run: Run) => void }) {
  const [name, setName] = useState(run.name);
  const [tags, setTags] = useState(run.tags.join(", "));
  const [notes, setNotes] = useState(run.notes ?? "");
  const [message, setMessage] = useState("");
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      const saved = await send<Run>("PATCH", runPath(run.entity, run.project, run.id),
        { name, notes, tags: tags.split(",").map((t) => t.trim()).filter(Boolean) });
      onSaved(saved);
      setMessage("saved");
    } catch (error) { setMessage(error instanceof ApiFailure ? `${error.code}: ${error.message}` : String(error)); }
  };
  return <form class="edit" onSubmit={save}>
    <label>name <input name="name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} /></label>
    <label>tags <input name="tags" value={tags} onInput={(e) => setTags((e.target as HTMLInputElement).value)} /></label>
    <label>notes <input name="notes" value={notes} onInput={(e) => setNotes((e.target as HTMLInputElement).value)} /></label>
    <button type="submit">save</button> <span class="muted" data-testid="edit-message">{message}</span>
  </form>;
}

function Console({ run }: { run: Run }) {
  const [text, setText] = useState<string | null>(null);
  const [search, setSearch] = useState("");
  useEffect(() => {
    let stopped = false;
    const load = () => fetch(fileUrl(run, "files/output.log"), { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : "")).then((t) => { if (!stopped) setText(t); });
    load();
    const timer = run.state === "running" ? window.setInterval(load, 3000) : undefined;  // a live tail of the console file
    return () => { stopped = true; window.clearInterval(timer); };
  }, [run.id, run.state]);
  if (text === null) return <div class="muted">loading…</div>;
  const lines = text.split("\n");
  const shown = search ? lines.filter((l) => l.toLowerCase().includes(search.toLowerCase())) : lines;
  return <div class="console">
    <input placeholder="search the output" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
    <span class="muted"> {shown.length} of {lines.length} lines</span>
    <pre data-testid="console">{shown.join("\n") || "(no console output captured)"}</pre>
  </div>;
}


function RunArtifacts({ run }: { run: Run }) {
  const lineage = useLineage(run.entity, run.project);
  if (!lineage) return <div class="muted">loading…</div>;
  const logged = lineage.artifacts.filter((v) => v.logged_by.includes(run.id));
  const used = lineage.artifacts.filter((v) => v.used_by.includes(run.id));
  const list = (title: string, versions: typeof logged) => <><h3>{title}</h3>
    {versions.length ? <ul data-testid={title.split(" ")[0]}>{versions.map((v) => <li key={v.digest}><b>{versionLabel(v)}</b>{" "}
      {v.aliases.map((a) => <span key={a} class="tag">{a}</span>)} <code class="muted">{v.digest.slice(0, 12)}</code></li>)}</ul>
      : <div class="muted">none</div>}</>;
  return <div>{list("logged by this run", logged)}{list("used by this run", used)}
    <a href={link({ page: "artifacts", run: "", tab: "overview" })}>lineage graph of the project</a></div>;
}

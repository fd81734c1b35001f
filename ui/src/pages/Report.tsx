// A report: Markdown blocks and live panels. Panels re-read their data as the project's runs change (unless
// pinned); the editor adds, removes and reorders blocks, edits text and configures panels, and saves on the
// revision it started from (a stale save is refused, and both texts are kept). History with diff and restore,
// comments, share links and exports sit below. A share token's page shows the same document read-only; a token
// cannot open the event stream, so that page re-reads its unpinned panels every SHARE_POLL_MS while it is visible.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiFailure, AuthError } from "../api";
import { PanelBody } from "../components/ReportPanel";
import { subscribe } from "../lib/live";
import { renderMarkdown } from "../lib/markdown";
import { panelCsv } from "../lib/panels";
import {
  addComment, type Block, createReport, listReports, type ReportInfo, blockData, type Comment, comments as loadComments, createShare, diff as loadDiff, exportReport, loadReport,
  newPanel, PANEL_TYPES, type PanelData, type PanelSpec, type PanelType, pinAll, pinBlock, type Report as ReportDoc,
  reportSource, restore, revision as loadRevision, revisions as loadRevisions, revokeShare, type Revision, saveReport,
  type Share, shares as loadShares, sharedSource, type Source,
} from "../lib/reports";
import { link } from "../lib/router";

const message = (e: unknown) => (e instanceof ApiFailure ? `${e.code}: ${e.message}` : e instanceof AuthError ? "sign in needed" : String((e as Error)?.message ?? e));
const when = (t: string | number) => { const d = new Date(typeof t === "number" ? t * 1000 : t); return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString(); };
const specKey = (spec: PanelSpec) => JSON.stringify(spec);

function download(name: string, text: string, type: string): void {
  saveBlob(name, new Blob([text], { type }));
}

function saveBlob(name: string, blob: Blob): void {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  window.setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function Markdown({ text }: { text: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  return <div class="markdown" dangerouslySetInnerHTML={{ __html: html }} />;
}

type DataState = { data?: PanelData; error?: string };

/** Point the comment form at block ``index`` and bring it into view. */
function commentOn(index: number): void {
  const select = document.querySelector<HTMLSelectElement>('select[name="comment-block"]');
  const text = document.querySelector<HTMLTextAreaElement>('textarea[name="comment"]');
  if (!select || !text) return;
  select.value = String(index);
  select.dispatchEvent(new Event("change", { bubbles: true }));
  text.scrollIntoView({ block: "center" });
  text.focus();
}

/** How often the share page re-reads its unpinned panels (only while the tab is visible). */
const SHARE_POLL_MS = 5000;

/** Each saved panel's data, re-read (unpinned ones) when a run of the panels' projects changes (``live``: the
 * event stream) or every ``pollMs`` while the page is visible (and at once when it shows again). */
function usePanelData(source: Source, report: ReportDoc | null, live: boolean, pollMs = 0): Record<number, DataState> {
  const [data, setData] = useState<Record<number, DataState>>({});
  const [tick, setTick] = useState(0);
  const first = useRef(true);
  useEffect(() => { first.current = true; setData({}); }, [source.base, report?.revision]);
  useEffect(() => {
    if (!report) return;
    const abort = new AbortController();
    const initial = first.current;
    first.current = false;
    report.blocks.forEach((block, i) => {
      if (block.kind !== "panel" || (!initial && block.spec.pinned)) return;
      blockData(source, i, abort.signal)
        .then((d) => setData((old) => (old[i]?.data && !old[i]?.error && JSON.stringify(old[i]!.data) === JSON.stringify(d)
          ? old : { ...old, [i]: { data: d } })))  // the same data again keeps the drawn panel as it is
        .catch((e: Error) => { if (e.name !== "AbortError") setData((old) => ({ ...old, [i]: { error: message(e), data: old[i]?.data } })); });
    });
    return () => abort.abort();
  }, [source.base, report?.revision, tick]);
  const projects = useMemo(() => {
    if (!report) return [];
    const found = new Set<string>();
    for (const b of report.blocks) if (b.kind === "panel" && !b.spec.pinned) found.add(b.spec.runs?.project ?? report.project);
    return [...found].filter((p) => p.includes("/"));
  }, [report?.revision, report?.id]);
  const unpinned = !!report?.blocks.some((b) => b.kind === "panel" && !b.spec.pinned);
  useEffect(() => {  // polling: a timer while the page is visible, none while it is hidden
    if (!pollMs || !unpinned) return;
    let timer: number | undefined;
    const start = () => { if (timer === undefined && document.visibilityState === "visible") timer = window.setInterval(() => setTick((n) => n + 1), pollMs); };
    const stop = () => { window.clearInterval(timer); timer = undefined; };
    const shown = () => { if (document.visibilityState === "visible") { setTick((n) => n + 1); start(); } else stop(); };
    start();
    document.addEventListener("visibilitychange", shown);
    return () => { stop(); document.removeEventListener("visibilitychange", shown); };
  }, [pollMs, unpinned]);
  useEffect(() => {  // live: any run or log record of the panels' projects re-reads them, at most every 2 s
    if (!live || !projects.length) return;
    let timer: number | undefined;
    const poke = () => { if (timer === undefined) timer = window.setTimeout(() => { timer = undefined; setTick((n) => n + 1); }, 2000); };
    const stops = projects.map((p) => { const [e, ...rest] = p.split("/"); return subscribe(e!, rest.join("/"), { run: poke, record: poke }); });
    return () => { for (const s of stops) s(); window.clearTimeout(timer); };
  }, [live, projects.join("\n")]);
  return data;
}

function PanelView({ index, spec, state, source, onPin, canComment }: {
  index: number; spec: PanelSpec; state: DataState | undefined; source: Source; onPin?: (pin: boolean) => void; canComment: boolean;
}) {
  const data = state?.data;
  const runLink = (run: { id: string; project: string }) => {
    if (source.shared || !run.project) return null;
    const [entity, ...rest] = run.project.split("/");
    return entity && rest.length ? `/${encodeURIComponent(entity)}/${encodeURIComponent(rest.join("/"))}/runs/${encodeURIComponent(run.id)}` : null;
  };
  const pinnedAt = spec.pinned?.at ?? (data?.pinned ? data.pinned_at : undefined);
  return <section class="report-panel" data-block={index} data-type={spec.type} data-state={data ? "ready" : state?.error ? "error" : "loading"}
    data-pinned={spec.pinned || data?.pinned ? "1" : "0"} data-runs={data?.runs.length ?? ""}>
    <div class="report-panel-head">
      <b>{spec.title || `${spec.type}${spec.metric ? " · " + spec.metric : ""}`}</b>
      {pinnedAt ? <span class="note" title="a snapshot: this panel no longer follows its run set">pinned {when(pinnedAt)}</span>
        : <span class="live-dot" title={source.shared ? `live: re-read every ${SHARE_POLL_MS / 1000} s` : "live: follows its run set"}>live</span>}
      <span class="grow" />
      {data && <button class="link" title="the data behind this panel" onClick={() => download(`panel-${index}.csv`, panelCsv(spec, data), "text/csv")}>csv</button>}
      {onPin && <button class="link" data-action="pin" onClick={() => onPin(!spec.pinned)}>{spec.pinned ? "unpin" : "pin"}</button>}
      {canComment && <button class="link" data-action="comment" onClick={() => commentOn(index)}>comment</button>}
    </div>
    {state?.error && <div class="error">{state.error}</div>}
    {data ? <PanelBody spec={spec} data={data} runLink={runLink} /> : !state?.error && <div class="muted">loading…</div>}
  </section>;
}

export function ReportPage({ id }: { id: string }) {
  const source = useMemo(() => reportSource(id), [id]);
  const [report, setReport] = useState<ReportDoc | null>(null);
  const [error, setError] = useState("");
  const [editing, setEditing] = useState<{ title: string; blocks: Block[]; base: number } | null>(null);
  const [conflict, setConflict] = useState<{ current: number; kept: number | null; theirs: ReportDoc } | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState("");
  const [reloads, setReloads] = useState(0);
  const data = usePanelData(source, report, !editing);

  useEffect(() => {
    loadReport(source).then((r) => {
      setReport(r); setError("");
      if (new URLSearchParams(location.search).has("edit")) {  // a new report opens in the editor, once
        history.replaceState(null, "", location.pathname);
        if (!editing) setEditing({ title: r.title, blocks: r.blocks, base: r.revision });
      }
    })
      .catch((e) => setError(message(e)));
  }, [source.base, reloads]);
  useEffect(() => { if (report) document.title = `${report.title} · tracker`; }, [report?.title]);

  const act = async (work: () => Promise<unknown>, done: string) => {
    setBusy(true); setNotice("");
    try { await work(); setNotice(done); setReloads((n) => n + 1); } catch (e) { setNotice(message(e)); } finally { setBusy(false); }
  };

  const save = async (base: number) => {
    if (!editing) return;
    setBusy(true); setNotice("");
    try {
      // Each text ends with a newline, so the file's lines (and the history's diffs) stay whole.
      const blocks = editing.blocks.map((b) => (b.kind === "markdown" && !b.text.endsWith("\n") ? { ...b, text: b.text + "\n" } : b));
      const answer = await saveReport(id, base, editing.title, blocks);
      setEditing(null); setConflict(null); setNotice(`saved revision ${answer.revision}`); setReloads((n) => n + 1);
    } catch (e) {
      if (e instanceof ApiFailure && e.status === 409) {
        const details = (e.body.details ?? e.body) as { current_revision?: number; conflict_revision?: number };
        const theirs = await loadReport(source);
        setConflict({ current: details.current_revision ?? theirs.revision, kept: details.conflict_revision ?? null, theirs });
      } else setNotice(message(e));
    } finally { setBusy(false); }
  };

  if (error) return <div class="error" data-testid="error">{error}</div>;
  if (!report) return <div class="muted">loading report…</div>;
  const [entity, ...rest] = report.project.split("/");
  const project = rest.join("/");
  const savedIndex = new Map<string, number>();
  report.blocks.forEach((b, i) => { if (b.kind === "panel") savedIndex.set(specKey(b.spec), i); });

  return <div class="report" data-revision={report.revision}>
    <div class="report-crumbs muted">
      <a href={link({ page: "workspace", entity: entity ?? "", project, report: "", filters: [], selected: [] })}>{report.project}</a> /{" "}
      <a href={link({ page: "reports", entity: entity ?? "", project, report: "", filters: [], selected: [] })}>reports</a>
      <span> · revision {report.revision} by {report.updated_by} · {when(report.updated_at)}</span>
    </div>
    {editing ? <input class="title-input" name="title" value={editing.title} onInput={(e) => setEditing({ ...editing, title: (e.target as HTMLInputElement).value })} />
      : <h1 data-testid="report-title">{report.title}</h1>}
    <div class="report-actions">
      {editing ? <>
        <button class="primary" data-action="save" disabled={busy} onClick={() => save(editing.base)}>save</button>
        <button onClick={() => { setEditing(null); setConflict(null); }}>cancel</button>
      </> : <>
        <button data-action="edit" onClick={() => setEditing({ title: report.title, blocks: report.blocks, base: report.revision })}>edit</button>
        <button data-action="pin-all" disabled={busy} title="freeze every panel at its current data" onClick={() => act(() => pinAll(id), "every panel pinned")}>pin all</button>
        <ExportMenu report={report} data={data} />
      </>}
      {notice && <span class="note" data-testid="notice">{notice}</span>}
    </div>
    {conflict && editing && <div class="conflict" data-testid="conflict">
      <b>Someone else saved this report</b> (now revision {conflict.current}, by {conflict.theirs.updated_by}) while you were editing.
      Your text was not saved over theirs{conflict.kept !== null ? <>; it is kept as conflict revision {conflict.kept} in the history</> : null}, and it is still in the editor below.
      <details open><summary>their current text (revision {conflict.current})</summary><pre class="theirs">{conflict.theirs.markdown}</pre></details>
      <div class="report-actions">
        <button data-action="overwrite" onClick={() => save(conflict.current)}>save mine as the new revision</button>
        <button data-action="take-theirs" onClick={() => { setEditing({ title: conflict.theirs.title, blocks: conflict.theirs.blocks, base: conflict.current }); setConflict(null); setReport(conflict.theirs); }}>discard mine, edit theirs</button>
      </div>
    </div>}
    {editing ? <Editor blocks={editing.blocks} project={report.project} onChange={(blocks) => setEditing({ ...editing, blocks })}
      preview={(spec) => { const i = savedIndex.get(specKey(spec)); return i === undefined ? null : <PanelView index={i} spec={spec} state={data[i]} source={source} canComment={false} />; }} />
      : <div class="blocks">{report.blocks.map((block, i) => block.kind === "markdown"
        ? <div key={i} class="report-text" data-block={i}><Markdown text={block.text} /></div>
        : <PanelView key={i} index={i} spec={block.spec} state={data[i]} source={source} canComment
          onPin={(pin) => act(() => pinBlock(id, i, pin), pin ? "panel pinned" : "panel unpinned")} />)}</div>}
    {!editing && <>
      <Comments id={id} report={report} />
      <History id={id} report={report} onRestored={(r) => { setNotice(`restored revision ${r}`); setReloads((n) => n + 1); }} />
      <Shares id={id} />
    </>}
  </div>;
}

function ExportMenu({ report, data }: { report: ReportDoc; data: Record<number, DataState> }) {
  const [state, setState] = useState("");
  const name = report.title.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").toLowerCase() || "report";
  const file = (format: "html" | "pdf") => {
    setState(`preparing ${format.toUpperCase()}…`);
    exportReport(report, report.blocks.map((_, i) => data[i]?.data ?? null), format)
      .then((blob) => { saveBlob(`${name}.${format}`, blob); setState(""); }).catch((e) => setState(message(e)));
  };
  const csv = () => report.blocks.forEach((b, i) => { const d = data[i]?.data; if (b.kind === "panel" && d) download(`${name}-panel-${i}.csv`, panelCsv(b.spec, d), "text/csv"); });
  return <span class="export" data-testid="export">export:{" "}
    <button data-action="export-html" onClick={() => file("html")}>HTML</button>{" "}
    <button data-action="export-pdf" onClick={() => file("pdf")}>PDF</button>{" "}
    <button data-action="export-md" onClick={() => download(`${name}.md`, report.markdown, "text/markdown")}>Markdown</button>{" "}
    <button class="link" onClick={csv}>CSV of each panel</button>
    {state && <span class="muted"> {state}</span>}
  </span>;
}

function Editor({ blocks, project, onChange, preview }: { blocks: Block[]; project: string; onChange: (b: Block[]) => void; preview: (spec: PanelSpec) => unknown }) {
  const set = (i: number, b: Block) => onChange(blocks.map((x, j) => (j === i ? b : x)));
  const move = (i: number, by: number) => {
    const j = i + by;
    if (j < 0 || j >= blocks.length) return;
    const next = [...blocks];
    [next[i], next[j]] = [next[j]!, next[i]!];
    onChange(next);
  };
  const insert = (at: number, b: Block) => onChange([...blocks.slice(0, at), b, ...blocks.slice(at)]);
  const adders = (at: number) => <div class="adders">
    <button class="link" data-action="add-text" onClick={() => insert(at, { kind: "markdown", text: "" })}>+ text</button>
    <button class="link" data-action="add-panel" onClick={() => insert(at, { kind: "panel", spec: newPanel("line", project) })}>+ panel</button>
  </div>;
  return <div class="editor">
    {adders(0)}
    {blocks.map((block, i) => <div key={i} class="edit-block" data-block={i}>
      <div class="edit-tools"><span class="muted">{block.kind === "markdown" ? "text" : "panel"} {i + 1}</span><span class="grow" />
        <button class="link" title="move up" data-action="up" disabled={i === 0} onClick={() => move(i, -1)}>↑</button>
        <button class="link" title="move down" data-action="down" disabled={i === blocks.length - 1} onClick={() => move(i, 1)}>↓</button>
        <button class="link" data-action="remove" onClick={() => onChange(blocks.filter((_, j) => j !== i))}>remove</button></div>
      {block.kind === "markdown"
        ? <div class="two"><textarea name="markdown" rows={Math.max(4, block.text.split("\n").length + 1)} value={block.text}
            placeholder="Markdown: # headings, - lists, [links](https://…), `code`, $math$"
            onInput={(e) => set(i, { kind: "markdown", text: (e.target as HTMLTextAreaElement).value })} />
          <Markdown text={block.text} /></div>
        : <><PanelForm spec={block.spec} onChange={(spec) => set(i, { kind: "panel", spec })} />
          {preview(block.spec) ?? <div class="muted">save to draw this panel</div>}</>}
      {adders(i + 1)}
    </div>)}
  </div>;
}

const listText = (v: string | string[] | null | undefined) => (Array.isArray(v) ? v.join("\n") : v ?? "");

function PanelForm({ spec, onChange }: { spec: PanelSpec; onChange: (s: PanelSpec) => void }) {
  const runs = spec.runs ?? {};
  const field = (name: keyof PanelSpec & string, label: string, placeholder = "") =>
    <label>{label} <input name={name} value={String(spec[name] ?? "")} placeholder={placeholder}
      onInput={(e) => { const v = (e.target as HTMLInputElement).value; const next = { ...spec }; if (v) next[name] = v; else delete next[name]; onChange(next); }} /></label>;
  const setRuns = (patch: Record<string, unknown>) => {
    const next: Record<string, unknown> = { ...runs, ...patch };
    for (const [k, v] of Object.entries(next)) if (v === "" || v === null || (Array.isArray(v) && !v.length)) delete next[k];
    onChange({ ...spec, runs: next });
  };
  const t = spec.type;
  const { pinned: _pinned, ...unpinned } = spec;
  return <div class="panel-form" data-type={t}>
    <label>type <select name="type" value={t} onChange={(e) => {
      const type = (e.target as HTMLSelectElement).value as PanelType;
      const next: PanelSpec = { ...newPanel(type, runs.project ?? ""), title: spec.title ?? "", runs: spec.runs };
      if ("metric" in next && spec.metric) next.metric = spec.metric;  // kept where the new type has one
      if (type === "line") next.x = spec.x ?? "_step";
      onChange(next);
    }}>{PANEL_TYPES.map((p) => <option key={p} value={p}>{p}</option>)}</select></label>
    {field("title", "title")}
    {["line", "bar", "scalar", "best", "scatter"].includes(t) && field("metric", t === "scatter" ? "metric (y)" : "metric", "val/loss")}
    {t === "line" && field("x", "x", "_step")}
    {t === "scatter" && field("param", "param (x)", "config.lr")}
    {["bar", "scalar", "best"].includes(t) && <label>goal <select name="goal" value={spec.goal ?? "min"} onChange={(e) => onChange({ ...spec, goal: (e.target as HTMLSelectElement).value as "min" | "max" })}>
      <option value="min">min</option><option value="max">max</option></select></label>}
    {(t === "table" || t === "parallel") && <label>columns <input name="columns" value={(spec.columns ?? []).join(", ")} placeholder="config.lr, summary.val/loss"
      onInput={(e) => onChange({ ...spec, columns: (e.target as HTMLInputElement).value.split(",").map((s) => s.trim()).filter(Boolean) })} /></label>}
    {["images", "lineage", "sweep"].includes(t) && field("key", t === "images" ? "media key" : t === "lineage" ? "artifact (name:vN)" : "sweep id")}
    <fieldset><legend>run set</legend>
      <label>project <input name="runs.project" value={runs.project ?? ""} onInput={(e) => setRuns({ project: (e.target as HTMLInputElement).value })} /></label>
      <label>filters <textarea name="runs.filters" rows={1} value={listText(runs.filters)} placeholder="config.lr<1e-3 (one per line)"
        onInput={(e) => { const lines = (e.target as HTMLTextAreaElement).value.split("\n").map((s) => s.trim()).filter(Boolean); setRuns({ filters: lines.length > 1 ? lines : lines[0] ?? "" }); }} /></label>
      <label>order <input name="runs.order" value={runs.order ?? ""} placeholder="-summary.val/acc" onInput={(e) => setRuns({ order: (e.target as HTMLInputElement).value })} /></label>
      <label>limit <input name="runs.limit" type="number" min="1" value={runs.limit ?? ""} onInput={(e) => { const v = Number((e.target as HTMLInputElement).value); setRuns({ limit: v > 0 ? v : "" }); }} /></label>
      <label>group <input name="runs.group" value={runs.group ?? ""} placeholder="config.optimizer, group or job_type" onInput={(e) => setRuns({ group: (e.target as HTMLInputElement).value })} /></label>
      <label>or run ids <input name="runs.ids" value={(runs.ids ?? []).join(", ")} placeholder="id1, id2 (then filters are ignored)"
        onInput={(e) => setRuns({ ids: (e.target as HTMLInputElement).value.split(",").map((s) => s.trim()).filter(Boolean) })} /></label>
    </fieldset>
    {spec.pinned && <label class="note"><input type="checkbox" checked onChange={() => onChange(unpinned)} /> pinned at {when(spec.pinned.at)} (untick to follow the run set again)</label>}
  </div>;
}

function Comments({ id, report }: { id: string; report: ReportDoc }) {
  const [list, setList] = useState<Comment[]>([]);
  const [text, setText] = useState("");
  const [block, setBlock] = useState<string>("");
  const [error, setError] = useState("");
  const [n, setN] = useState(0);
  useEffect(() => { loadComments(id).then(setList).catch((e) => setError(message(e))); }, [id, n]);
  const label = (i: number | null) => (i === null ? "the report" : `block ${i + 1}${report.blocks[i]?.kind === "panel" ? ` (${(report.blocks[i] as { spec: PanelSpec }).spec.title || "panel"})` : ""}`);
  return <section class="comments" id="comments"><h2>Comments <span class="muted">({list.length})</span></h2>
    {error && <div class="error">{error}</div>}
    {list.map((c) => <div key={c.id} class="comment" data-block={c.block ?? ""}><div class="muted"><b>{c.author}</b> on {label(c.block)} · {when(c.created_at)}</div><div class="comment-text">{c.text}</div></div>)}
    <form onSubmit={(e) => { e.preventDefault(); if (!text.trim()) return;
      addComment(id, text.trim(), block === "" ? null : Number(block)).then(() => { setText(""); setN((x) => x + 1); }).catch((err) => setError(message(err))); }}>
      <textarea name="comment" rows={2} value={text} placeholder="comment" onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      <select name="comment-block" value={block} onChange={(e) => setBlock((e.target as HTMLSelectElement).value)}>
        <option value="">on the report</option>{report.blocks.map((_, i) => <option key={i} value={String(i)}>on {label(i)}</option>)}</select>
      <button type="submit">comment</button></form>
  </section>;
}

function History({ id, report, onRestored }: { id: string; report: ReportDoc; onRestored: (revision: number) => void }) {
  const [open, setOpen] = useState(false);
  const [list, setList] = useState<Revision[]>([]);
  const [shown, setShown] = useState<{ title: string; text: string; kind: "diff" | "text" } | null>(null);
  const [error, setError] = useState("");
  useEffect(() => { if (open) loadRevisions(id).then((r) => setList([...r].sort((a, b) => b.revision - a.revision))).catch((e) => setError(message(e))); }, [open, id, report.revision]);
  return <section class="history"><h2><button class="link" data-action="history" onClick={() => setOpen(!open)}>{open ? "▾" : "▸"} History</button></h2>
    {open && <>{error && <div class="error">{error}</div>}
      <table class="list" data-testid="revisions"><thead><tr><th>revision</th><th>author</th><th>when</th><th>title</th><th /></tr></thead>
        <tbody>{list.map((r) => <tr key={r.revision} data-revision={r.revision} class={r.conflict ? "differs" : ""}>
          <td>{r.revision}{r.conflict && <span class="tag" title="a refused save on a stale revision, kept">conflict</span>}{r.revision === report.revision && <span class="tag">current</span>}</td>
          <td>{r.author}</td><td>{when(r.created_at)}</td><td>{r.title}</td>
          <td>
            <button class="link" onClick={() => loadRevision(id, r.revision).then((x) => setShown({ title: `revision ${r.revision}`, text: x.markdown, kind: "text" })).catch((e) => setError(message(e)))}>view</button>
            <button class="link" data-action="diff" onClick={() => loadDiff(id, r.revision, report.revision).then((d) => setShown({ title: `changes from ${r.revision} to ${report.revision}`, text: d.diff, kind: "diff" })).catch((e) => setError(message(e)))}>diff to current</button>
            {r.revision !== report.revision && <button class="link" data-action="restore" onClick={() => restore(id, r.revision, report.revision).then(() => onRestored(r.revision)).catch((e) => setError(message(e)))}>restore</button>}
          </td></tr>)}</tbody></table>
      {shown && <div class="shown"><h3>{shown.title}</h3>{shown.kind === "diff"
        ? <pre class="diff" data-testid="diff">{shown.text ? shown.text.split("\n").map((line, i) => <div key={i} class={line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : ""}>{line || " "}</div>) : "no changes"}</pre>
        : <pre>{shown.text}</pre>}</div>}
    </>}
  </section>;
}

function Shares({ id }: { id: string }) {
  const [list, setList] = useState<Share[]>([]);
  const [made, setMade] = useState<Share | null>(null);
  const [error, setError] = useState("");
  const [n, setN] = useState(0);
  useEffect(() => { loadShares(id).then(setList).catch((e) => setError(message(e))); }, [id, n]);
  const full = (s: Share) => new URL(s.url || `/shared/${s.token ?? ""}`, location.origin).href;
  return <section class="shares"><h2>Share links</h2>
    <div class="muted">Anyone with a link can read this report (and only what its panels show) without signing in, until it is revoked.</div>
    {error && <div class="error">{error}</div>}
    {made && <div class="note share-new">New link (copy it now: it is shown only once): <a href={full(made)} data-testid="share-link">{full(made)}</a></div>}
    {list.map((s) => <div key={s.id} class="share" data-share={s.id}><code>{s.id}</code> <span class="muted">made by {s.created_by} · {when(s.created_at)}</span>{" "}
      <button class="link" data-action="revoke" onClick={() => revokeShare(id, s.id).then(() => { if (made?.id === s.id) setMade(null); setN((x) => x + 1); }).catch((e) => setError(message(e)))}>revoke</button></div>)}
    <button data-action="share" onClick={() => createShare(id).then((s) => { setMade(s); setN((x) => x + 1); }).catch((e) => setError(message(e)))}>create share link</button>
  </section>;
}

/** The read-only page of a share link: the report and its panels, nothing else (no sign-in); unpinned panels
 * re-read their data every SHARE_POLL_MS while the tab is visible. */
export function SharedReport({ token }: { token: string }) {
  const source = useMemo(() => sharedSource(token), [token]);
  const [report, setReport] = useState<ReportDoc | null>(null);
  const [error, setError] = useState("");
  useEffect(() => { loadReport(source).then(setReport).catch((e) => setError(e instanceof ApiFailure && e.status === 404 ? "This share link is unknown or was revoked." : message(e))); }, [token]);
  const data = usePanelData(source, report, false, SHARE_POLL_MS);
  if (error) return <div class="error pad" data-testid="error">{error}</div>;
  if (!report) return <div class="muted pad">loading report…</div>;
  return <div class="report shared">
    <h1 data-testid="report-title">{report.title}</h1>
    <div class="blocks">{report.blocks.map((block, i) => block.kind === "markdown"
      ? <div key={i} class="report-text" data-block={i}><Markdown text={block.text} /></div>
      : <PanelView key={i} index={i} spec={block.spec} state={data[i]} source={source} canComment={false} />)}</div>
  </div>;
}

/** A project's reports, newest change first, and a form to start one. */
export function ReportList({ entity, project }: { entity: string; project: string }) {
  const path = `${entity}/${project}`;
  const [list, setList] = useState<ReportInfo[] | null>(null);
  const [title, setTitle] = useState("");
  const [error, setError] = useState("");
  useEffect(() => { listReports(path).then(setList).catch((e) => setError(message(e))); }, [path]);
  const create = (e: Event) => {
    e.preventDefault();
    if (!title.trim()) return;
    createReport(path, title.trim(), [{ kind: "markdown", text: `# ${title.trim()}\n` }])
      .then((made) => { history.pushState(null, "", `/reports/${encodeURIComponent(made.id)}?edit=1`); dispatchEvent(new PopStateEvent("popstate")); })
      .catch((err) => setError(message(err)));
  };
  return <div class="reports">
    <h1><a href={link({ page: "workspace", report: "" })}>{entity} / {project}</a> / reports</h1>
    {error && <div class="error" data-testid="error">{error}</div>}
    <form class="filters" onSubmit={create}><input name="new-title" placeholder="title of a new report" value={title} onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
      <button type="submit" data-action="create">new report</button></form>
    {list === null ? <div class="muted">loading…</div> : !list.length ? <div class="muted">No reports in this project yet.</div>
      : <table class="list" data-testid="report-list"><thead><tr><th>title</th><th>revision</th><th>updated</th><th>by</th></tr></thead>
        <tbody>{list.map((r) => <tr key={r.id} data-report={r.id}><td><a href={`/reports/${encodeURIComponent(r.id)}`}>{r.title}</a></td>
          <td>{r.revision}</td><td>{when(r.updated_at)}</td><td>{r.updated_by}</td></tr>)}</tbody></table>}
  </div>;
}

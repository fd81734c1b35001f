// Artifact versions with their aliases, producers and consumers, and the lineage graph: runs and
// artifact versions as nodes, laid out in layers from the first producers; click a version to trace
// its upstream and downstream and list its files, a run to open it. On the team server the versions
// come from its artifact collections (server version numbers, aliases, manifests with sizes); where it
// holds none (a local store's `tracker ui`), from the runs' artifact records.

import { useEffect, useMemo, useState } from "preact/hooks";
import { artifactCollections, artifactVersion, artifactVersions, get } from "../api";
import type { ArtifactVersionInfo } from "../api";
import { formatBytes, fromCollections, layout, versionKey, versionLabel, webLink } from "../lib/lineage";
import type { Lineage, Version } from "../lib/lineage";
import { StateBadge } from "../components/RunsTable";
import { link, navigate } from "../lib/router";
import type { ViewState } from "../lib/urlstate";

export type { Lineage, Version } from "../lib/lineage";
export { versionLabel } from "../lib/lineage";

export function useLineage(entity: string, project: string): Lineage | null {
  const [lineage, setLineage] = useState<Lineage | null>(null);
  useEffect(() => {
    get<Lineage>(`/api/v1/artifacts/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`).then(setLineage)
      .catch(() => setLineage({ artifacts: [], runs: {} }));
  }, [entity, project]);
  return lineage;
}

async function loadVersions(entity: string, project: string): Promise<Lineage> {
  const collections = await artifactCollections(entity, project).catch(() => []);
  if (collections.length === 0) return get<Lineage>(`/api/v1/artifacts/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`);
  const lists = await Promise.all(collections.map((c) => artifactVersions(entity, project, c.name)));
  return fromCollections(lists.flat());
}

function useVersions(entity: string, project: string): Lineage | null {
  const [lineage, setLineage] = useState<Lineage | null>(null);
  useEffect(() => {
    loadVersions(entity, project).then(setLineage).catch(() => setLineage({ artifacts: [], runs: {} }));
  }, [entity, project]);
  return lineage;
}

export function Artifacts({ view }: { view: ViewState }) {
  const lineage = useVersions(view.entity, view.project);
  const [focus, setFocus] = useState<string | null>(null);
  if (!lineage) return <div class="muted">loading…</div>;
  const focused = lineage.artifacts.find((v) => versionKey(v) === focus) ?? null;
  return <div class="artifacts">
    <h1><a href={link({ page: "workspace" })}>{view.entity}/{view.project}</a> / artifacts</h1>
    {lineage.artifacts.length === 0 ? <div class="muted">No artifacts logged in this project yet.</div> : <>
      <LineageGraph lineage={lineage} focus={focus} onFocus={setFocus} />
      <table class="list" data-testid="artifact-list"><thead><tr><th>version</th><th>type</th><th>aliases</th><th>size</th><th>digest</th><th>logged by</th><th>used by</th></tr></thead>
        <tbody>{lineage.artifacts.map((v) => <tr key={versionKey(v)} class={focus === versionKey(v) ? "differs" : ""} data-artifact={versionLabel(v)}>
          <td><button class="link" onClick={() => setFocus(versionKey(v))}>{versionLabel(v)}</button></td>
          <td>{v.type ?? ""}</td>
          <td>{v.aliases.map((a) => <span key={a} class="tag">{a}</span>)}</td>
          <td title={v.size !== undefined ? `${v.size} bytes, ${v.file_count} files` : ""}>{v.size !== undefined ? formatBytes(v.size) : ""}</td>
          <td><code title={v.digest}>{v.digest.slice(0, 12)}</code></td>
          <td>{v.logged_by.map((r) => <RunLink key={r} id={r} lineage={lineage} />)}</td>
          <td>{v.used_by.map((r) => <RunLink key={r} id={r} lineage={lineage} />)}</td>
        </tr>)}</tbody></table>
      {focused && <VersionFiles entity={view.entity} project={view.project} version={focused} />}
    </>}
  </div>;
}

/** The focused version's manifest from the server: each file's path, size and digest. */
function VersionFiles({ entity, project, version }: { entity: string; project: string; version: Version }) {
  const [info, setInfo] = useState<ArtifactVersionInfo | null | "none">(null);
  useEffect(() => {
    setInfo(null);
    if (version.version === null) { setInfo("none"); return; }
    artifactVersion(entity, project, version.name, `v${version.version}`).then(setInfo).catch(() => setInfo("none"));
  }, [entity, project, version.name, version.version]);
  if (info === null) return <div class="muted">loading files…</div>;
  if (info === "none" || !info.files) return <div class="muted" data-testid="artifact-files-missing">The server holds no manifest of {versionLabel(version)}.</div>;
  return <div class="version-files">
    <h2>{info.ref} <span class="muted">{info.type} · {info.file_count} files · {formatBytes(info.size)}</span></h2>
    {Object.keys(info.metadata).length > 0 && <pre class="muted">{JSON.stringify(info.metadata)}</pre>}
    <table class="list" data-testid="artifact-files"><thead><tr><th>file</th><th>size</th><th>sha256</th></tr></thead>
      <tbody>{info.files.map((f) => <tr key={f.path} data-path={f.path} data-size={f.size ?? ""}>
        <FileCell path={f.path} uri={f.ref} />
        <td title={`${f.size ?? "?"} bytes`}>{formatBytes(f.size)}</td>
        <td><code title={f.sha256 ?? ""}>{(f.sha256 ?? "reference").slice(0, 12)}</code></td>
      </tr>)}</tbody></table>
  </div>;
}

/** A file's path, linking to its reference when that is a web address (never to a javascript: or data: URI). */
function FileCell({ path, uri }: { path: string; uri?: string | null }) {
  const href = webLink(uri);
  return <td>{href ? <a href={href} rel="noopener noreferrer">{path}</a> : path}</td>;
}

function RunLink({ id, lineage }: { id: string; lineage: Lineage }) {
  const run = lineage.runs[id];
  return <span class="chip"><a href={link({ page: "run", run: id, tab: "overview" })}>{run?.name ?? id}</a>{run && <StateBadge state={run.state} />}</span>;
}

function LineageGraph({ lineage, focus, onFocus }: { lineage: Lineage; focus: string | null; onFocus: (id: string | null) => void }) {
  const { nodes, edges } = useMemo(() => layout(lineage), [lineage]);
  const lit = useMemo(() => {
    if (!focus) return null;
    const out = new Set([focus]);
    for (const forward of [true, false]) {
      const stack = [focus];
      while (stack.length) {
        const at = stack.pop()!;
        for (const [from, to] of edges) {
          const next = forward ? (from === at ? to : null) : (to === at ? from : null);
          if (next && !out.has(next)) { out.add(next); stack.push(next); }
        }
      }
    }
    return out;
  }, [focus, edges]);
  const W = 190, H = 46;
  const at = new Map(nodes.map((n) => [n.id, { x: 20 + n.layer * W, y: 20 + n.row * H }]));
  const width = 40 + (Math.max(...nodes.map((n) => n.layer)) + 1) * W;
  const height = 40 + Math.max(...nodes.map((n) => n.row + 1)) * H;
  const dim = (id: string) => (lit && !lit.has(id) ? 0.25 : 1);
  return <div class="lineage"><svg width={width} height={height} data-testid="lineage">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#889" /></marker></defs>
    {edges.map(([from, to]) => { const a = at.get(from)!, b = at.get(to)!;
      return <line key={from + to} x1={a.x + 150} y1={a.y + 14} x2={b.x} y2={b.y + 14} stroke="#889" marker-end="url(#arrow)" opacity={lit && !(lit.has(from) && lit.has(to)) ? 0.2 : 1} />; })}
    {nodes.map((n) => { const p = at.get(n.id)!;
      return <g key={n.id} transform={`translate(${p.x},${p.y})`} opacity={dim(n.id)} style={{ cursor: "pointer" }} data-node={n.label}
        onClick={() => (n.kind === "run" ? navigate({ page: "run", run: n.id.slice(4), tab: "overview" }) : onFocus(focus === n.id ? null : n.id))}>
        <rect width="150" height="28" rx={n.kind === "run" ? 14 : 3} fill={n.kind === "run" ? "#e6efff" : "#fff4d6"} stroke={focus === n.id ? "#d62728" : "#99a"} />
        <text x="75" y="18" text-anchor="middle" font-size="12">{n.label.length > 22 ? n.label.slice(0, 21) + "…" : n.label}</text>
      </g>; })}
  </svg><div class="muted">runs are rounded, artifact versions square; click a version to trace it, a run to open it</div></div>;
}

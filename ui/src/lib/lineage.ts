// The artifacts page's own logic, free of the DOM: versions from the server's collections, the
// lineage graph's layout (layers by longest path from a producer) and sizes for people.

import type { ArtifactVersionInfo } from "../api";

export interface Version { name: string; version: number | null; digest: string; aliases: string[]; logged_by: string[]; used_by: string[]; type?: string; size?: number; file_count?: number }
export interface Lineage { artifacts: Version[]; runs: Record<string, { name: string; state: string }> }

export const versionLabel = (v: Version) => `${v.name}:v${v.version ?? "?"}`;
export const versionKey = (v: Version) => `${v.name}@${v.digest}`;

/** The server's collections as the page's versions and runs (empty when it holds none). */
export function fromCollections(versions: ArtifactVersionInfo[]): Lineage {
  const runs: Lineage["runs"] = {};
  const artifacts = versions.map((v) => {
    for (const r of [v.created_by, ...v.used_by]) if (r) runs[r.id] = { name: r.name, state: r.state };
    return { name: v.name, version: v.version, digest: v.digest, aliases: v.aliases, type: v.type, size: v.size,
      file_count: v.file_count, logged_by: v.created_by ? [v.created_by.id] : [], used_by: v.used_by.map((r) => r.id) };
  });
  return { artifacts, runs };
}

export const formatBytes = (n: number | null | undefined) => {
  if (n === null || n === undefined) return "?";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = n, unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit++; }
  return unit === 0 ? `${n} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
};

/** A reference's URI as a link target when a browser can open it safely (http or https); null for any other
 * scheme (s3://, gs://, file://, and javascript: or data: URIs, which a manifest may hold as any text). */
export function webLink(uri: string | null | undefined): string | null {
  if (!uri) return null;
  try {
    const parsed = new URL(uri);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

export interface Node { id: string; kind: "run" | "artifact"; label: string; layer: number; row: number }

/** Nodes in layers (longest path from a source) and edges producer → version → consumer. */
export function layout(lineage: Lineage): { nodes: Node[]; edges: [string, string][] } {
  const edges: [string, string][] = [];
  const labels = new Map<string, [Node["kind"], string]>();
  for (const v of lineage.artifacts) {
    const key = versionKey(v);
    labels.set(key, ["artifact", versionLabel(v)]);
    for (const r of v.logged_by) { labels.set("run:" + r, ["run", lineage.runs[r]?.name ?? r]); edges.push(["run:" + r, key]); }
    for (const r of v.used_by) { labels.set("run:" + r, ["run", lineage.runs[r]?.name ?? r]); edges.push([key, "run:" + r]); }
  }
  const incoming = new Map<string, string[]>();
  for (const [from, to] of edges) incoming.set(to, [...(incoming.get(to) ?? []), from]);
  const layers = new Map<string, number>();
  const depth = (id: string, seen: Set<string>): number => {
    const known = layers.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0;  // a cycle (a run using what it logged): cut it
    seen.add(id);
    const value = Math.max(-1, ...(incoming.get(id) ?? []).map((p) => depth(p, seen))) + 1;
    layers.set(id, value);
    return value;
  };
  const rows = new Map<number, number>();
  const nodes: Node[] = [...labels.entries()].map(([id, [kind, label]]) => {
    const layer = depth(id, new Set());
    const row = rows.get(layer) ?? 0;
    rows.set(layer, row + 1);
    return { id, kind, label, layer, row };
  });
  return { nodes, edges };
}


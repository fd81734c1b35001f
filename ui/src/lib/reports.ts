// Reports on the team server (see the reports contract): the document, its revisions, panels' data, pins,
// comments and share links. A share link's page reads the same shapes from /api/v1/shared/{token}.

import { get, send, sendForBlob } from "../api";

export type PanelType = "line" | "bar" | "scalar" | "table" | "parallel" | "scatter" | "best" | "images" | "lineage" | "sweep";
export const PANEL_TYPES: PanelType[] = ["line", "bar", "scalar", "table", "parallel", "scatter", "best", "images", "lineage", "sweep"];

export interface RunSet {
  project?: string; filters?: string | string[] | null; group?: string | null; order?: string | null; limit?: number | null;
  ids?: string[] | null;
}
export interface PanelSpec {
  type: PanelType; title?: string; metric?: string; x?: string; param?: string; columns?: string[]; goal?: "min" | "max";
  key?: string; runs?: RunSet; pinned?: { at: string; data: PanelData };
  [other: string]: unknown;
}
export type Block = { kind: "markdown"; text: string } | { kind: "panel"; spec: PanelSpec };

export interface ReportInfo { id: string; title: string; project: string; revision: number; updated_at: string | number; updated_by: string }
export interface Report extends ReportInfo { markdown: string; blocks: Block[] }

export interface PanelRun { id: string; name: string; project: string; state: string; config: Record<string, unknown>; summary: Record<string, unknown> }
/** One group of a grouped run set: its key (the group field's value as text; null for runs without it), its
 * runs, for a line panel the mean/min/max of the metric at each x and how many runs logged that x, and for a
 * panel with a metric the mean/min/max of the runs' summary value. */
export interface PanelGroup {
  key: string | null; runs: string[]; count: number;
  series?: { x: unknown[]; mean: unknown[]; min: unknown[]; max: unknown[]; count: number[] };
  summary?: { mean: unknown; min: unknown; max: unknown; count: number };
}
export interface PanelData {
  type: PanelType; pinned: boolean; pinned_at?: string; runs: PanelRun[];
  series?: Record<string, { x: unknown[]; y: unknown[] }>;
  groups?: PanelGroup[];
  best?: (PanelRun & { value: unknown }) | null;
  images?: { run_id: string; step: number | null; url: string; caption?: string | null }[];
  lineage?: { root?: string | null; nodes: { id: string; kind: string; name: string; version?: number; ref?: string; run_id?: string }[]; edges: { from: string; to: string }[] } | null;
  sweep?: Record<string, unknown> | null;
  message?: string;
}
export interface Revision { revision: number; author: string; created_at: string | number; title: string; conflict: boolean }
export interface Comment { id: string | number; block: number | null; author: string; created_at: string | number; text: string }
/** A live share link: its id (the token itself is shown once, when made: the server keeps only its hash). */
export interface Share { id: string; created_at: string | number; created_by: string; token?: string; url?: string }

const R = "/api/v1/reports";
const seg = encodeURIComponent;

/** Where a report is read from: the signed-in API, or a share token's read-only one. */
export interface Source { base: string; shared: boolean }
export const reportSource = (id: string): Source => ({ base: `${R}/${seg(id)}`, shared: false });
export const sharedSource = (token: string): Source => ({ base: `/api/v1/shared/${seg(token)}`, shared: true });

export const listReports = (project: string) => get<{ reports: ReportInfo[] }>(R, { project }).then((r) => r.reports);
export const createReport = (project: string, title: string, blocks: Block[] = []) =>
  send<{ id: string; revision: number; url: string }>("POST", R, { project, title, blocks });
export const loadReport = (source: Source) => get<Report>(source.base);
export const blockData = (source: Source, index: number, signal?: AbortSignal) => get<PanelData>(`${source.base}/blocks/${index}/data`, {}, signal);
export const saveReport = (id: string, base_revision: number, title: string, blocks: Block[]) =>
  send<{ revision: number }>("PUT", `${R}/${seg(id)}`, { base_revision, title, blocks });
export const revisions = (id: string) => get<{ revisions: Revision[] }>(`${R}/${seg(id)}/revisions`).then((r) => r.revisions);
export const revision = (id: string, n: number) => get<{ revision: number; markdown: string; blocks: Block[]; author: string; created_at: string | number }>(`${R}/${seg(id)}/revisions/${n}`);
export const diff = (id: string, from: number, to: number) => get<{ from: number; to: number; diff: string }>(`${R}/${seg(id)}/diff`, { from, to });
export const restore = (id: string, rev: number, base_revision: number) => send<{ revision: number }>("POST", `${R}/${seg(id)}/restore`, { revision: rev, base_revision });
export const pinBlock = (id: string, index: number, pin: boolean) => send<{ revision: number }>(pin ? "POST" : "DELETE", `${R}/${seg(id)}/blocks/${index}/pin`);
export const pinAll = (id: string) => send<{ revision: number }>("POST", `${R}/${seg(id)}/pin`);
export const comments = (id: string) => get<{ comments: Comment[] }>(`${R}/${seg(id)}/comments`).then((r) => r.comments);
export const addComment = (id: string, text: string, block: number | null) =>
  send<Comment>("POST", `${R}/${seg(id)}/comments`, block === null ? { text } : { text, block });
export const shares = (id: string) => get<{ shares: Share[] }>(`${R}/${seg(id)}/shares`).then((r) => r.shares ?? []);
export const createShare = (id: string) => send<Share>("POST", `${R}/${seg(id)}/shares`);
export const revokeShare = (id: string, share: string) => send<unknown>("DELETE", `${R}/${seg(id)}/shares/${seg(share)}`);

/** A new panel's spec of a type, over the report's project (the editor's starting point). */
export function newPanel(type: PanelType, project: string): PanelSpec {
  const spec: PanelSpec = { type, title: "", runs: { project, limit: 10 } };
  if (["line", "bar", "scalar", "best", "scatter"].includes(type)) spec.metric = "";
  if (type === "line") spec.x = "_step";
  if (type === "scatter") spec.param = "";
  if (type === "table" || type === "parallel") spec.columns = [];
  if (["best", "scalar", "bar"].includes(type)) spec.goal = "min";
  if (["images", "lineage", "sweep"].includes(type)) spec.key = "";
  return spec;
}

const asDataUri = (blob: Blob) => new Promise<string>((done, fail) => {
  const reader = new FileReader();
  reader.onload = () => done(String(reader.result));
  reader.onerror = () => fail(reader.error);
  reader.readAsDataURL(blob);
});

/** The report as the page shows it, rendered by the server to a self-contained HTML file or a PDF: the panels'
 * payloads and their images (as data URIs) travel with the request. */
export async function exportReport(report: Report, data: (PanelData | null)[], format: "html" | "pdf"): Promise<Blob> {
  const images: Record<string, string> = {};
  for (const d of data) for (const im of d?.images ?? []) {
    if (images[im.url] || !im.url.startsWith("/")) continue;
    const answer = await fetch(im.url, { credentials: "same-origin" });
    if (answer.ok) images[im.url] = await asDataUri(await answer.blob());
  }
  return sendForBlob(`/api/v1/report-export?format=${format}`, { report, data, images });
}

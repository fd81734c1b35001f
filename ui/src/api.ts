// The UI's only data path: the team server's read API (plus its session and edit routes).

export class AuthError extends Error {}
export class ApiFailure extends Error {
  constructor(public status: number, public code: string, detail: string) { super(detail); }
}

export interface Run {
  id: string; entity: string; project: string; name: string; state: string;
  exit_code: number | null; signal: string | null; traceback: string | null; preempted: boolean;
  tags: string[]; group: string | null; job_type: string | null; notes: string | null; host: string | null;
  created_at: number; updated_at: number; heartbeat_at: number | null; ended_at: number | null; last_seq: number;
  config: Record<string, unknown>; summary: Record<string, unknown>; meta: Record<string, unknown>;
}

export type Params = Record<string, string | number | string[] | undefined | null>;

function cookie(name: string): string {
  const found = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

export function url(path: string, params: Params = {}): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) for (const v of value) query.append(key, v);
    else query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

async function handle<T>(response: Response): Promise<T> {
  if (response.status === 401) throw new AuthError("sign in needed");
  if (!response.ok) {
    let body: { error?: string; detail?: string } = {};
    try { body = await response.json(); } catch { /* not JSON */ }
    throw new ApiFailure(response.status, body.error ?? "http_error", body.detail ?? response.statusText);
  }
  return (await response.json()) as T;
}

const early = new Map<string, Promise<unknown>>();

/**
 * Start a GET before the page that needs it is rendered (at start-up, from the URL alone, while the
 * session is checked); the page's own ``get`` of the same address takes the answer once.
 */
export function prefetch(path: string, params: Params = {}): void {
  const address = url(path, params);
  if (early.has(address)) return;
  const answer = fetch(address, { credentials: "same-origin" }).then((r) => handle<unknown>(r));
  // A failure (signed out, say) is forgotten: the page's own get, after sign-in, asks again and reports it.
  answer.catch(() => { if (early.get(address) === answer) early.delete(address); });
  early.set(address, answer);
  window.setTimeout(() => early.delete(address), 30_000);  // not taken: forgotten (a later get asks again)
}

export async function get<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const address = url(path, params);
  const started = early.get(address);
  if (started) { early.delete(address); return started as Promise<T>; }
  return handle<T>(await fetch(address, { credentials: "same-origin", signal }));
}

/** A state-changing request: carries the session's CSRF token. */
export async function send<T>(method: "POST" | "PATCH" | "DELETE" | "PUT", path: string, body?: unknown): Promise<T> {
  return handle<T>(await fetch(path, {
    method, credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": cookie("tracker_csrf") },
    body: body === undefined ? undefined : JSON.stringify(body),
  }));
}

export const runPath = (e: string, p: string, id = "") =>
  `/api/v1/runs/${encodeURIComponent(e)}/${encodeURIComponent(p)}${id ? "/" + encodeURIComponent(id) : ""}`;

export const fileUrl = (run: Run, path: string) =>
  `${runPath(run.entity, run.project, run.id)}/files/${path.split("/").map(encodeURIComponent).join("/")}`;

// ----- artifacts on the team server (collections, versions with their manifests, lineage) -----

export interface ArtifactRunRef { id: string; entity: string; project: string; name: string; state: string }
export interface ArtifactFile { path: string; sha256: string | null; size: number | null; ref?: string | null }
export interface ArtifactCollection { name: string; type: string; versions: number; latest: number | null; created_at: number }
export interface ArtifactVersionInfo {
  entity: string; project: string; name: string; type: string; version: number; ref: string; digest: string;
  aliases: string[]; size: number; file_count: number; description: string | null; metadata: Record<string, unknown>;
  created_at: number; created_by: ArtifactRunRef | null; used_by: ArtifactRunRef[]; files?: ArtifactFile[];
}
export interface ArtifactGraph {
  root: string | null;
  nodes: { id: string; kind: "run" | "artifact"; ref?: string; run_id?: string; name: string; version?: number }[];
  edges: { from: string; to: string }[];
}

const collectionsPath = (e: string, p: string, ...rest: string[]) =>
  [`/api/v1/artifact-collections/${encodeURIComponent(e)}/${encodeURIComponent(p)}`, ...rest.map(encodeURIComponent)].join("/");

export const artifactCollections = (e: string, p: string) =>
  get<{ collections: ArtifactCollection[] }>(collectionsPath(e, p)).then((r) => r.collections);
/** Every version of an artifact, fetched a page at a time. */
export async function artifactVersions(e: string, p: string, name: string): Promise<ArtifactVersionInfo[]> {
  const all: ArtifactVersionInfo[] = [];
  for (let after: number | null = -1; after !== null;) {
    const page: { versions: ArtifactVersionInfo[]; next_after: number | null } =
      await get(collectionsPath(e, p, name), { after });
    all.push(...page.versions);
    after = page.next_after;
  }
  return all;
}
export const artifactVersion = (e: string, p: string, name: string, selector: string) =>
  get<ArtifactVersionInfo>(collectionsPath(e, p, name, selector));
export const artifactLineage = (e: string, p: string, name: string, selector: string, depth = 4) =>
  get<ArtifactGraph>(collectionsPath(e, p, name, selector, "lineage"), { depth });
export const moveAlias = (e: string, p: string, name: string, alias: string, version: number) =>
  send<ArtifactVersionInfo>("PUT", collectionsPath(e, p, name, "aliases", alias), { version });

// ----- sweeps (the team server's, or the local store's as the local UI imports them) -----

export interface SweepInfo {
  id: string; entity: string; project: string; name: string | null; method: string; state: string; seed: number;
  config: Record<string, unknown>; created_at: number; counts: Record<string, number>;
}
export interface Trial {
  number: number; run_id: string; params: Record<string, unknown>; grid_index: number | null; state: string;
  value: number | null; created_at: number; ended_at: number | null;
}
export interface Importance { importances: Record<string, number> | null; trials: number; evaluator?: string | null; reason?: string | null }

export const sweepPath = (e: string, p: string, id = "", rest = "") =>
  `/api/v1/sweeps/${encodeURIComponent(e)}/${encodeURIComponent(p)}${id ? "/" + encodeURIComponent(id) : ""}${rest}`;
export const sweeps = (e: string, p: string) => get<{ sweeps: SweepInfo[] }>(sweepPath(e, p)).then((r) => r.sweeps);
export const sweep = (e: string, p: string, id: string) => get<SweepInfo>(sweepPath(e, p, id));
export const trials = (e: string, p: string, id: string) =>
  get<{ trials: Trial[] }>(sweepPath(e, p, id, "/trials")).then((r) => r.trials);
export const importance = (e: string, p: string, id: string) => get<Importance>(sweepPath(e, p, id, "/importance"));

// Every view is a link: the page, its filters, selection, panel settings and x-axis live in the URL.

export type Page = "projects" | "workspace" | "run" | "compare" | "artifacts" | "sweeps" | "sweep" | "reports" | "report" | "shared";

export interface ViewState {
  page: Page;
  entity: string;
  project: string;
  run: string;            // the run page's run id
  sweep: string;          // the sweep page's sweep id; on the workspace (and the compare page it opens, whose
                          // link back keeps it), the sweep whose runs it shows
  filters: string[];      // Api().runs filter expressions, all must hold
  sort: string;           // "[-]field", e.g. "-summary.val/acc"
  selected: string[];     // run ids charted and compared
  columns: string[];      // extra table columns ("config.lr", "summary.val/acc", "meta.host")
  group: string;          // group-by field ("config.optimizer", "group", "tags", "job_type")
  x: string;              // "_step", "_timestamp" (wall), "_relative" or a step_metric key
  smoothing: number;      // EMA weight in [0, 1)
  log: boolean;           // log-scale y
  range: [number, number] | null;  // zoomed x range
  tab: string;            // run page tab
  metric: string;         // the workspace's main metric, "max:val/acc" or "min:loss"; "" = the first define_metric goal
  report: string;         // the report page's report id, or the shared page's token
}

export const DEFAULTS: ViewState = {
  page: "projects", entity: "", project: "", run: "", sweep: "", filters: [], sort: "-created_at", selected: [], columns: [],
  group: "", x: "_step", smoothing: 0, log: false, range: null, tab: "overview", metric: "", report: "",
};

const seg = (s: string) => encodeURIComponent(s);
/** The pages whose link carries the workspace's sweep scope (``?sweep=ID``). */
const scoped = (page: Page) => page === "workspace" || page === "compare";

/** The path and query of a view; settings equal to their defaults are left out. */
export function encodeState(state: ViewState): string {
  let path = "/";
  if (state.page === "report" || state.page === "shared") {
    path = `/${state.page === "report" ? "reports" : "shared"}/${seg(state.report)}`;
  } else if (state.page !== "projects" || state.entity) {
    path = `/${seg(state.entity)}`;
    if (state.project) path += `/${seg(state.project)}`;
    if (state.page === "run") path += `/runs/${seg(state.run)}`;
    if (state.page === "compare") path += "/compare";
    if (state.page === "artifacts") path += "/artifacts";
    if (state.page === "reports") path += "/reports";
    if (state.page === "sweeps") path += "/sweeps";
    if (state.page === "sweep") path += `/sweeps/${seg(state.sweep)}`;
  }
  const query = new URLSearchParams();
  for (const f of state.filters) query.append("f", f);
  if (state.sort !== DEFAULTS.sort) query.set("sort", state.sort);
  if (state.selected.length) query.set("sel", state.selected.join(","));
  if (state.columns.length) query.set("cols", state.columns.join(","));
  if (state.group) query.set("group", state.group);
  if (state.x !== DEFAULTS.x) query.set("x", state.x);
  if (state.smoothing) query.set("smooth", String(state.smoothing));
  if (state.log) query.set("log", "1");
  if (state.range) query.set("range", `${state.range[0]}~${state.range[1]}`);
  if (state.tab !== DEFAULTS.tab) query.set("tab", state.tab);
  if (state.metric) query.set("metric", state.metric);
  if (scoped(state.page) && state.sweep) query.set("sweep", state.sweep);
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

const list = (value: string | null) => (value ? value.split(",").filter(Boolean) : []);

/** The view named by a path and query; anything unreadable falls back to its default. */
export function decodeState(pathname: string, search: string): ViewState {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(search);
  const state: ViewState = { ...DEFAULTS, filters: query.getAll("f"), selected: list(query.get("sel")),
    columns: list(query.get("cols")) };
  state.entity = parts[0] ?? "";
  state.project = parts[1] ?? "";
  if (parts.length === 2 && (parts[0] === "reports" || parts[0] === "shared")) {  // /reports/{id}, /shared/{token}
    return { ...state, page: parts[0] === "reports" ? "report" : "shared", report: parts[1]!, entity: "", project: "" };
  }
  if (parts.length >= 4 && parts[2] === "runs") { state.page = "run"; state.run = parts[3]!; }
  else if (parts[2] === "compare") state.page = "compare";
  else if (parts[2] === "artifacts") state.page = "artifacts";
  else if (parts[2] === "reports") state.page = "reports";
  else if (parts[2] === "sweeps" && parts.length >= 4) { state.page = "sweep"; state.sweep = parts[3]!; }
  else if (parts[2] === "sweeps") state.page = "sweeps";
  else state.page = parts.length >= 2 ? "workspace" : "projects";
  if (scoped(state.page)) state.sweep = query.get("sweep") ?? "";
  state.sort = query.get("sort") || DEFAULTS.sort;
  state.group = query.get("group") ?? "";
  state.x = query.get("x") || DEFAULTS.x;
  const smooth = Number(query.get("smooth") ?? 0);
  state.smoothing = Number.isFinite(smooth) && smooth >= 0 && smooth < 1 ? smooth : 0;
  state.log = query.get("log") === "1";
  const range = (query.get("range") ?? "").split("~").map(Number);
  state.range = range.length === 2 && range.every(Number.isFinite) && range[0]! < range[1]! ? [range[0]!, range[1]!] : null;
  state.tab = query.get("tab") || DEFAULTS.tab;
  const metric = query.get("metric") ?? "";
  state.metric = /^(min|max):./.test(metric) ? metric : "";
  return state;
}

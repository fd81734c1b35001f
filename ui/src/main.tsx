import { type ComponentType, render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { AuthError, get, send } from "./api";
import { currentView, link, navigate, useView } from "./lib/router";
import { Artifacts } from "./pages/Artifacts";
import { Compare } from "./pages/Compare";
import { Projects } from "./pages/Projects";
import { RunPage } from "./pages/RunPage";
import { SignIn } from "./pages/SignIn";
import { SweepPage, SweepsList } from "./pages/Sweeps";
import { prefetchWorkspace, Workspace } from "./pages/Workspace";
import "./style.css";

// The report pages (Markdown, KaTeX, the sanitiser) load only when a report is opened.
type ReportModule = typeof import("./pages/Report");
let reportModule: Promise<ReportModule> | null = null;
function Lazy<P extends object>({ pick, props }: { pick: (m: ReportModule) => ComponentType<P>; props: P }) {
  const [module, setModule] = useState<ReportModule | null>(null);
  const [failed, setFailed] = useState("");
  useEffect(() => { (reportModule ??= import("./pages/Report")).then(setModule).catch((e: Error) => setFailed(e.message)); }, []);
  if (failed) return <div class="error">could not load the report page: {failed}</div>;
  if (!module) return <div class="muted">loading…</div>;
  const Page = pick(module);
  return <Page {...props} />;
}

interface Session { user: string; credential: string; teams: { name: string; role: string }[] }

function App() {
  const view = useView();
  if (view.page === "shared") return <main><Lazy pick={(m) => m.SharedReport} props={{ token: view.report }} /></main>;
  return <SignedIn />;
}

function SignedIn() {
  const view = useView();
  const [session, setSession] = useState<Session | null | "signed-out">(null);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    get<Session>("/api/v1/session").then(setSession)
      .catch((e) => setSession(e instanceof AuthError ? "signed-out" : null));
  }, [attempt]);
  useEffect(() => {  // one team: go straight to it
    if (session && session !== "signed-out" && view.page === "projects" && !view.entity && session.teams.length === 1)
      navigate({ entity: session.teams[0]!.name }, true);
  }, [session]);
  if (session === null) return <div class="muted pad">loading…</div>;
  if (session === "signed-out") return <SignIn onSignedIn={() => setAttempt((n) => n + 1)} />;
  const signOut = () => send("DELETE", "/api/v1/session").finally(() => setSession("signed-out"));
  return <>
    <header>
      <a class="brand" href={link({ page: "projects", project: "", run: "", selected: [], filters: [], columns: [], group: "" })}>tracker</a>
      {view.entity && <a href={link({ page: "projects", project: "", run: "" })}>{view.entity}</a>}
      {view.project && <a href={link({ page: "workspace", run: "", sweep: "", tab: "overview" })}>{view.project}</a>}
      {view.project && <a href={link({ page: "artifacts", run: "", tab: "overview" })}>artifacts</a>}
      {view.project && <a href={link({ page: "sweeps", run: "", sweep: "", tab: "overview" })}>sweeps</a>}
      {view.project && <a href={link({ page: "reports", run: "", tab: "overview" })} data-testid="reports-link">reports</a>}
      <span class="grow" />
      <span class="muted" data-testid="user">{session.user}</span>
      {!session.credential.startsWith("session:tracker-ui") && <button class="link" onClick={signOut}>sign out</button>}
    </header>
    <main>
      {view.page === "projects" && <Projects view={view} teams={session.teams} />}
      {view.page === "workspace" && <Workspace view={view} />}
      {view.page === "run" && <RunPage view={view} />}
      {view.page === "compare" && <Compare view={view} />}
      {view.page === "artifacts" && <Artifacts view={view} />}
      {view.page === "sweeps" && <SweepsList view={view} />}
      {view.page === "sweep" && <SweepPage view={view} />}
      {view.page === "reports" && <Lazy pick={(m) => m.ReportList} props={{ entity: view.entity, project: view.project }} />}
      {view.page === "report" && <Lazy key={view.report} pick={(m) => m.ReportPage} props={{ id: view.report }} />}
    </main>
  </>;
}

// In-app links (HTML's and SVG's <a>) navigate without reloading.
document.addEventListener("click", (event) => {
  const anchor = (event.target as Element).closest("a");
  const href = anchor?.getAttribute("href");
  if (!anchor || !href || anchor.getAttribute("target") || event.ctrlKey || event.metaKey || event.shiftKey) return;
  const to = new URL(href, location.href);
  if (to.origin !== location.origin) return;
  event.preventDefault();
  history.pushState(null, "", to.pathname + to.search);
  dispatchEvent(new PopStateEvent("popstate"));
});

// A workspace link's listing and charts are asked for now, while the session is checked.
const opened = currentView();
if (opened.page === "workspace") prefetchWorkspace(opened);

render(<App />, document.getElementById("app")!);

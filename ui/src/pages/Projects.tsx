import { useEffect, useState } from "preact/hooks";
import { get } from "../api";
import { link } from "../lib/router";
import type { ViewState } from "../lib/urlstate";

interface Project { name: string; runs: number; last_activity: number }

export function Projects({ view, teams }: { view: ViewState; teams: { name: string; role: string }[] }) {
  const shown = view.entity ? teams.filter((t) => t.name === view.entity) : teams;
  const [projects, setProjects] = useState<Record<string, Project[]>>({});
  useEffect(() => {
    Promise.all(shown.map((t) => get<{ projects: Project[] }>(`/api/v1/projects/${encodeURIComponent(t.name)}`)
      .then((r) => [t.name, r.projects] as const))).then((all) => setProjects(Object.fromEntries(all)));
  }, [shown.map((t) => t.name).join(",")]);
  return <div class="projects"><h1>Projects</h1>
    {shown.map((team) => <section key={team.name}><h2>{team.name} <span class="muted">({team.role})</span></h2>
      <table class="list"><thead><tr><th>project</th><th>runs</th><th>last activity</th></tr></thead><tbody>
        {(projects[team.name] ?? []).map((p) => <tr key={p.name} data-project={p.name}>
          <td><a href={link({ page: "workspace", entity: team.name, project: p.name, selected: [], filters: [], columns: [] })}>{p.name}</a></td>
          <td>{p.runs}</td><td>{new Date(p.last_activity * 1000).toLocaleString()}</td></tr>)}
        {projects[team.name]?.length === 0 && <tr><td class="muted" colSpan={3}>no projects yet</td></tr>}
      </tbody></table></section>)}
  </div>;
}

// Live updates over server-sent events: only new records and run changes travel.

import type { Run } from "../api";

export interface LiveHandlers {
  record?: (run: string, record: Record<string, unknown>) => void;
  run?: (run: Run) => void;
}

/** Subscribe to a project's (or one run's) stream; returns the function that closes it. */
export function subscribe(entity: string, project: string, handlers: LiveHandlers, run?: string): () => void {
  const query = run ? `?run=${encodeURIComponent(run)}` : "";
  const source = new EventSource(`/api/v1/events/${encodeURIComponent(entity)}/${encodeURIComponent(project)}${query}`);
  source.addEventListener("record", (event) => {
    const data = JSON.parse((event as MessageEvent<string>).data) as { run: string; record: Record<string, unknown> };
    handlers.record?.(data.run, data.record);
  });
  source.addEventListener("run", (event) => handlers.run?.(JSON.parse((event as MessageEvent<string>).data) as Run));
  return () => source.close();
}

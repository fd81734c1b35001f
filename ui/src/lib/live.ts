// Live updates over server-sent events: only new records and run changes travel. Subscribers of the same
// stream (the workspace's table and its charts) share one EventSource, so the server polls for it once.

import type { Run } from "../api";

export interface LiveHandlers {
  record?: (run: string, record: Record<string, unknown>) => void;
  run?: (run: Run) => void;
}

interface Stream { source: EventSource; handlers: Set<LiveHandlers> }
const streams = new Map<string, Stream>();

function open(address: string): Stream {
  const source = new EventSource(address);
  const stream: Stream = { source, handlers: new Set() };
  source.addEventListener("record", (event) => {
    const data = JSON.parse((event as MessageEvent<string>).data) as { run: string; record: Record<string, unknown> };
    for (const h of stream.handlers) h.record?.(data.run, data.record);
  });
  source.addEventListener("run", (event) => {
    const run = JSON.parse((event as MessageEvent<string>).data) as Run;
    for (const h of stream.handlers) h.run?.(run);
  });
  return stream;
}

/** Subscribe to a project's (or one run's) stream; returns the function that ends this subscription. */
export function subscribe(entity: string, project: string, handlers: LiveHandlers, run?: string): () => void {
  const query = run ? `?run=${encodeURIComponent(run)}` : "";
  const address = `/api/v1/events/${encodeURIComponent(entity)}/${encodeURIComponent(project)}${query}`;
  let stream = streams.get(address);
  if (!stream) streams.set(address, (stream = open(address)));
  const mine = { ...handlers };  // a distinct entry even when one handlers object subscribes twice
  stream.handlers.add(mine);
  return () => {
    stream.handlers.delete(mine);
    if (!stream.handlers.size) { stream.source.close(); streams.delete(address); }
  };
}

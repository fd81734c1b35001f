// A run's media by step: image grids with a step slider, tables, audio, video, histograms over time as a
// heatmap, and the user's Vega-Lite plots (Vega is loaded only when one of those is shown).

import { useEffect, useRef, useState } from "preact/hooks";
import { fileUrl, get, runPath, type Run } from "../api";
import { display, toNumber } from "../lib/values";

interface MediaValue { kind: string; file?: string; caption?: string; columns?: string[]; bins?: number[]; values?: number[]; title?: string; [k: string]: unknown }
interface Steps { steps: number[]; values: MediaValue[] }

function mediaOf(value: unknown): MediaValue | null {
  return value && typeof value === "object" && "$m" in value ? (value as { $m: MediaValue }).$m : null;
}

export function Media({ run }: { run: Run }) {
  const keys = Object.entries(run.summary).filter(([, v]) => mediaOf(v)).map(([k]) => k).sort();
  const [byKey, setByKey] = useState<Record<string, Steps>>({});
  const [step, setStep] = useState<number | null>(null);
  useEffect(() => {
    if (!keys.length) return;
    get<{ series: Record<string, { x: number[]; y: unknown[] }> }>(`${runPath(run.entity, run.project, run.id)}/history`, { keys })
      .then((h) => {
        const out: Record<string, Steps> = {};
        for (const [key, s] of Object.entries(h.series)) {
          const steps: number[] = [], values: MediaValue[] = [];
          s.y.forEach((v, i) => { const m = mediaOf(v); if (m) { steps.push(s.x[i]!); values.push(m); } });
          out[key] = { steps, values };
        }
        setByKey(out);
      });
  }, [run.id, run.last_seq, keys.join(",")]);
  if (!keys.length) return <div class="muted">no media logged</div>;
  const stepped = Object.entries(byKey).filter(([, s]) => s.values[0]?.kind !== "histogram");
  const allSteps = [...new Set(stepped.flatMap(([, s]) => s.steps))].sort((a, b) => a - b);
  const current = step ?? allSteps[allSteps.length - 1] ?? 0;
  return <div class="media">
    {allSteps.length > 1 && <label class="slider">step <input type="range" min={0} max={allSteps.length - 1} step={1}
      value={Math.max(0, allSteps.indexOf(current))} onInput={(e) => setStep(allSteps[Number((e.target as HTMLInputElement).value)] ?? null)} />
      <b data-testid="media-step">{current}</b></label>}
    <div class="media-grid">
      {stepped.map(([key, s]) => {
        let index = -1;
        s.steps.forEach((st, i) => { if (st <= current) index = i; });
        const value = s.values[index];
        return <figure key={key} data-key={key}>
          <figcaption><b>{key}</b> <span class="muted">{value ? `step ${s.steps[index]}` : "no value at this step"}</span></figcaption>
          {value && <MediaView run={run} value={value} />}
        </figure>;
      })}
    </div>
    {Object.entries(byKey).filter(([, s]) => s.values[0]?.kind === "histogram").map(([key, s]) =>
      <figure key={key} data-key={key}><figcaption><b>{key}</b> <span class="muted">histogram over {s.steps.length} steps</span></figcaption>
        <Heatmap steps={s.steps} values={s.values} /></figure>)}
  </div>;
}

function MediaView({ run, value }: { run: Run; value: MediaValue }) {
  const src = value.file ? fileUrl(run, value.file) : "";
  switch (value.kind) {
    case "image": return <div><img class="pixelated" src={src} width={value.width as number} height={value.height as number}
      alt={value.caption ?? ""} data-testid="image" />{value.caption && <div class="caption">{value.caption}</div>}</div>;
    case "audio": return <audio controls src={src} />;
    case "video": return <video controls src={src} style={{ maxWidth: "100%" }} />;
    case "table": return <TableView src={src} run={run} />;
    case "plot": return <PlotView src={src} />;
    default: return <pre>{JSON.stringify(value)}</pre>;
  }
}

function TableView({ src, run }: { src: string; run: Run }) {
  const [table, setTable] = useState<{ columns: string[]; data: unknown[][] } | null>(null);
  const [sort, setSort] = useState<{ column: number; down: boolean } | null>(null);
  useEffect(() => { fetch(src, { credentials: "same-origin" }).then((r) => r.json()).then(setTable); }, [src]);
  if (!table) return <div class="muted">loading table…</div>;
  const rows = [...table.data];
  if (sort) rows.sort((a, b) => {
    const x = a[sort.column], y = b[sort.column];
    const nx = toNumber(x), ny = toNumber(y);
    const order = nx !== null && ny !== null ? nx - ny : display(x).localeCompare(display(y));
    return sort.down ? -order : order;
  });
  return <table class="medium-table" data-testid="table-medium"><thead><tr>{table.columns.map((c, i) =>
    <th key={c}><button class="link" onClick={() => setSort({ column: i, down: sort?.column === i ? !sort.down : false })}>{c}</button></th>)}</tr></thead>
    <tbody>{rows.slice(0, 1000).map((row, r) => <tr key={r}>{row.map((cell, c) => {
      const m = mediaOf(cell);
      return <td key={c}>{m ? <MediaView run={run} value={m} /> : display(cell)}</td>;
    })}</tr>)}</tbody></table>;
}

async function embed(element: HTMLElement, spec: Record<string, unknown>): Promise<void> {
  const { default: vegaEmbed } = await import("vega-embed");
  await vegaEmbed(element, spec as never, { actions: false, renderer: "canvas" });
}

function PlotView({ src }: { src: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    fetch(src, { credentials: "same-origin" }).then((r) => r.json()).then((doc: { spec: Record<string, unknown>; data: unknown[] | null }) => {
      const spec = doc.data ? { ...doc.spec, data: { values: doc.data } } : doc.spec;
      if (box.current) return embed(box.current, spec);
    }).catch((e: Error) => setError(e.message));
  }, [src]);
  return <div>{error && <div class="error">{error}</div>}<div ref={box} data-testid="vega" /></div>;
}

/** Histograms over steps as a heatmap (step × bin, colour = count), drawn by Vega-Lite. */
function Heatmap({ steps, values }: { steps: number[]; values: MediaValue[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const rows: { step: number; lo: number; hi: number; count: number }[] = [];
    values.forEach((h, i) => (h.values ?? []).forEach((count, b) => {
      if (h.bins) rows.push({ step: steps[i]!, lo: h.bins[b]!, hi: h.bins[b + 1]!, count });
    }));
    if (box.current) embed(box.current, {
      $schema: "https://vega.github.io/schema/vega-lite/v5.json", width: 560, height: 220, data: { values: rows },
      mark: "rect", encoding: {
        x: { field: "step", type: "ordinal", axis: { labelOverlap: true } },
        y: { field: "lo", type: "quantitative", title: "value", bin: { binned: true } }, y2: { field: "hi" },
        color: { field: "count", type: "quantitative", scale: { scheme: "viridis" } },
      },
    });
  }, [steps, values]);
  return <div ref={box} data-testid="heatmap" />;
}

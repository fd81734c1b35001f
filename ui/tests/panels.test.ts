import { describe, expect, it } from "vitest";
import { axisPosition, bestOf, fieldOf, groupBars, groupedRows, groupLines, lines, panelCsv, parallelAxes, ranked, scatterPoints, ticks } from "../src/lib/panels";
import type { PanelData, PanelRun } from "../src/lib/reports";

const run = (id: string, lr: number, loss: number | null, extra: Record<string, unknown> = {}): PanelRun => ({
  id, name: `run-${id}`, project: "team/proj", state: "finished", config: { lr, opt: id === "a" ? "adam" : "sgd", ...extra },
  summary: loss === null ? {} : { "val/loss": loss },
});
const runs = [run("a", 0.1, 0.5), run("b", 0.01, 0.2), run("c", 0.001, null), run("d", 0.05, { $f: "nan" } as unknown as number)];

describe("report panels", () => {
  it("reads config and summary fields in the payload's shapes", () => {
    expect(fieldOf(runs[0]!, "config.lr")).toBe(0.1);
    expect(fieldOf(runs[0]!, "summary.val/loss")).toBe(0.5);
    expect(fieldOf(runs[0]!, "val/loss")).toBe(0.5);
    expect(fieldOf({ ...runs[0]!, config: { optim: { lr: 3 } } }, "config.optim.lr")).toBe(3);
    expect(fieldOf({ ...runs[0]!, config: { "config.lr": 7 } }, "config.lr")).toBe(7);
    expect(fieldOf(runs[0]!, "name")).toBe("run-a");
  });

  it("ranks on a metric by goal, leaving out runs without a finite value", () => {
    expect(ranked(runs, "val/loss", "min").map((r) => r.run.id)).toEqual(["b", "a"]);
    expect(ranked(runs, "val/loss", "max").map((r) => r.value)).toEqual([0.5, 0.2]);
    const data: PanelData = { type: "best", pinned: false, runs };
    expect(bestOf({ type: "best", metric: "val/loss", goal: "min" }, data)?.run.id).toBe("b");
    expect(bestOf({ type: "best", metric: "val/loss" }, { ...data, best: { ...runs[0]!, value: 0.5 } })?.run.id).toBe("a");
  });

  it("draws lines from full histories and CSVs them point by point", () => {
    const data: PanelData = { type: "line", pinned: false, runs: runs.slice(0, 2), series: { a: { x: [0, 1, 2], y: [3, 2, { $f: "nan" }] }, b: { x: [0], y: [1] } } };
    const drawn = lines(data);
    expect(drawn.map((l) => l.data.y)).toEqual([[3, 2, null], [1]]);
    expect(panelCsv({ type: "line", metric: "val/loss", x: "_step" }, data)).toBe(
      "run_id,run_name,_step,val/loss\na,run-a,0,3\na,run-a,1,2\na,run-a,2,\nb,run-b,0,1\n");
  });

  it("CSVs one row per run and quotes what needs quoting", () => {
    const data: PanelData = { type: "table", pinned: false, runs: [{ ...runs[0]!, name: 'a "quoted", name' }] };
    expect(panelCsv({ type: "table", columns: ["config.lr", "summary.val/loss"] }, data)).toBe(
      'run_id,run_name,state,config.lr,summary.val/loss\na,"a ""quoted"", name",finished,0.1,0.5\n');
  });

  it("places runs on parallel axes, numbers by value and the rest by category", () => {
    const axes = parallelAxes(runs, ["config.lr", "config.opt"]);
    expect(axes[0]).toMatchObject({ kind: "number", min: 0.001, max: 0.1 });
    expect(axes[1]).toMatchObject({ kind: "category", categories: ["adam", "sgd"] });
    expect(axisPosition(axes[0]!, 0.1)).toBe(1);
    expect(axisPosition(axes[0]!, 0.001)).toBe(0);
    expect(axisPosition(axes[1]!, "sgd")).toBe(1);
    expect(axisPosition(axes[1]!, undefined)).toBeNull();
  });

  it("pairs param and metric for the scatter", () => {
    expect(scatterPoints(runs, "config.lr", "val/loss").map((p) => [p.x, p.y])).toEqual([[0.1, 0.5], [0.01, 0.2]]);
    expect(scatterPoints(runs, "lr", "val/loss").length).toBe(2);
  });

  it("picks round ticks", () => {
    expect(ticks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(ticks(3, 3)).toEqual([3]);
    expect(ticks(0.001, 0.1).length).toBeGreaterThan(2);
  });

  it("draws a grouped line panel as one mean line per group with its min–max band and run count", () => {
    const data: PanelData = {
      type: "line", pinned: false, runs: runs.slice(0, 3),
      series: { a: { x: [0, 1], y: [1, 2] }, b: { x: [0], y: [3] }, c: { x: [0], y: [5] } },
      groups: [
        { key: "adam", runs: ["a", "b"], count: 2, series: { x: [0, 1], mean: [2, 2], min: [1, 2], max: [3, 2], count: [2, 1] } },
        { key: null, runs: ["c"], count: 1, series: { x: [0], mean: [5], min: [5], max: [5], count: [1] } },
        { key: "empty", runs: [], count: 0, series: { x: [], mean: [], min: [], max: [], count: [] } },
      ],
    };
    const drawn = groupLines(data);
    expect(drawn.map((l) => l.label)).toEqual(["adam (2 runs)", "(none) (1 run)"]);
    expect(drawn[0]!.data).toEqual({ x: [0, 1], y: [2, 2], lo: [1, 2], hi: [3, 2], bucketed: false });
    expect(drawn[1]!.data.lo).toEqual([5]);
    expect(panelCsv({ type: "line", metric: "loss" }, data)).toBe(
      "group,runs,_step,mean,min,max,count\nadam,2,0,2,1,3,2\nadam,2,1,2,2,2,1\n(none),1,0,5,5,5,1\n");
  });

  it("draws a grouped bar chart as one bar per group, best mean first, and lists table rows by group", () => {
    const data: PanelData = {
      type: "bar", pinned: false, runs,
      groups: [
        { key: "adam", runs: ["a"], count: 1, summary: { mean: 0.5, min: 0.5, max: 0.5, count: 1 } },
        { key: "sgd", runs: ["b", "c", "d"], count: 3, summary: { mean: 0.2, min: 0.1, max: 0.3, count: 2 } },
        { key: "none", runs: [], count: 0, summary: { mean: null, min: null, max: null, count: 0 } },
      ],
    };
    expect(groupBars(data, "min").map((b) => [b.group.key, b.value, b.min, b.max])).toEqual([["sgd", 0.2, 0.1, 0.3], ["adam", 0.5, 0.5, 0.5]]);
    expect(groupBars(data, "max").map((b) => b.group.key)).toEqual(["adam", "sgd"]);
    expect(groupedRows(data).map((r) => [r.run.id, r.group?.key])).toEqual([["a", "adam"], ["b", "sgd"], ["c", "sgd"], ["d", "sgd"]]);
    expect(groupedRows({ ...data, groups: undefined }).map((r) => r.group)).toEqual([null, null, null, null]);
    expect(panelCsv({ type: "table", columns: ["config.lr"] }, data).split("\n").slice(0, 3)).toEqual(
      ["run_id,run_name,state,group,config.lr", "a,run-a,finished,adam,0.1", "b,run-b,finished,sgd,0.01"]);
  });
});

import { describe, expect, it } from "vitest";
import type { Trial } from "../src/api";
import { bestSoFar, bestTrial, makeAxis, paramValue, sweepMetric, sweepParams, sweepWorkspace, trialText } from "../src/lib/sweep";
import { DEFAULTS, decodeState, encodeState } from "../src/lib/urlstate";

const trial = (number: number, created_at: number, value: number | null, state = "finished"): Trial =>
  ({ number, run_id: `r${number}`, params: {}, grid_index: null, state, value, created_at, ended_at: null });

describe("sweep config", () => {
  const config = { method: "bayes", metric: { name: "val/loss" },
    parameters: { lr: { distribution: "log_uniform_values", min: 1e-4, max: 0.1 }, opt: { values: ["adam", "sgd"] },
      epochs: { value: 3 }, model: { parameters: { depth: { min: 1, max: 8 } } } } };
  it("reads the metric (minimize by default) and the searched parameters, nested ones by path", () => {
    expect(sweepMetric(config)).toEqual({ name: "val/loss", goal: "minimize" });
    expect(sweepMetric({ method: "grid" })).toBeNull();
    expect(sweepParams(config)).toEqual([
      { name: "lr", path: ["lr"], categories: null, log: true },
      { name: "opt", path: ["opt"], categories: ["adam", "sgd"], log: false },
      { name: "model.depth", path: ["model", "depth"], categories: null, log: false }]);
    expect(paramValue({ model: { depth: 4 } }, ["model", "depth"])).toBe(4);
    expect(paramValue({ model: {} }, ["model", "depth"])).toBeUndefined();
  });
});

describe("best so far", () => {
  const trials = [trial(0, 10, 5), trial(1, 20, 7), trial(2, 15, null, "running"), trial(3, 30, 2), trial(4, 25, 9, "stopped")];
  it("follows the goal over the scored trials in start order", () => {
    expect(bestSoFar(trials, "minimize")).toEqual([[10, 5, 5], [20, 7, 5], [30, 2, 2]]);
    expect(bestSoFar(trials, "maximize")).toEqual([[10, 5, 5], [20, 7, 7], [30, 2, 7]]);
    expect(bestTrial(trials, "minimize")?.number).toBe(3);
    expect(bestTrial(trials, "maximize")?.number).toBe(1);
    expect(bestTrial([trial(0, 1, null, "running")], "maximize")).toBeNull();
  });
});

describe("parallel coordinates axes", () => {
  it("spaces categories evenly and scales numbers, log ones by their logarithm", () => {
    const cats = makeAxis("opt", ["sgd"], ["adam", "sgd", "lion"], false);
    expect([cats.position("adam"), cats.position("sgd"), cats.position("lion"), cats.position("nope")]).toEqual([0, 0.5, 1, null]);
    const log = makeAxis("lr", [0.001, 0.01, 0.1], null, true);
    expect(log.position(0.01)).toBeCloseTo(0.5);
    expect(log.ticks.map((t) => t[1])).toEqual(["0.001", "0.1"]);
    const flat = makeAxis("depth", [4, 4], null, false);
    expect(flat.position(4)).toBe(0.5);
    expect(makeAxis("x", [1, 3], null, false).position(2)).toBe(0.5);
  });
});

describe("a trial's line", () => {
  const params = sweepParams({ parameters: { lr: { min: 0.001, max: 0.1 }, opt: { values: ["adam", "<b>sgd</b>"] } } });
  const metric = { name: "val/loss", goal: "minimize" } as const;
  it("names the trial, its run, state, parameters and value, the user's text as written", () => {
    const t = { ...trial(3, 10, 0.25), run_id: "ab12", params: { lr: 0.01, opt: "<b>sgd</b>" } };
    expect(trialText(t, params, metric)).toBe("trial 3 · run ab12 (finished): lr=0.01, opt=<b>sgd</b>, val/loss=0.25");
    expect(trialText({ ...t, state: "running", value: null, params: {} }, params, metric))
      .toBe("trial 3 · run ab12 (running): lr=, opt=, val/loss=–");
  });
});

describe("the workspace over a sweep's runs", () => {
  const view = { ...DEFAULTS, page: "workspace" as const, entity: "e", project: "p", sweep: "sw1", filters: ["config.lr<1"] };
  it("keeps the view's filters and sweep (the server scopes the listing) and defaults the main metric and sort to the sweep's", () => {
    const got = sweepWorkspace(view, { name: "val/loss", goal: "minimize" });
    expect([got.filters, got.sweep]).toEqual([["config.lr<1"], "sw1"]);  // no list of run ids, however many trials
    expect(got.metric).toBe("min:val/loss");
    expect(got.sort).toBe("summary.val/loss");  // minimize: ascending
    const up = sweepWorkspace(view, { name: "acc", goal: "maximize" });
    expect([up.metric, up.sort]).toEqual(["max:acc", "-summary.acc"]);
  });
  it("leaves the user's own metric and sort alone; a chosen metric sets the default sort", () => {
    const metric = { name: "val/loss", goal: "minimize" } as const;
    expect(sweepWorkspace({ ...view, metric: "max:val/acc" }, metric).sort).toBe("-summary.val/acc");
    expect(sweepWorkspace({ ...view, sort: "config.lr" }, metric)).toMatchObject({ metric: "min:val/loss", sort: "config.lr" });
    expect(sweepWorkspace(view, null)).toMatchObject({ metric: "", sort: DEFAULTS.sort });
  });
  it("travels in the workspace's link and the compare page's (its link back keeps it), not in other pages'", () => {
    expect(encodeState(view)).toBe("/e/p?f=config.lr%3C1&sweep=sw1");
    expect(decodeState("/e/p", "?sweep=sw1").sweep).toBe("sw1");
    expect(encodeState({ ...view, page: "run", run: "r1" })).toBe("/e/p/runs/r1?f=config.lr%3C1");
    expect(decodeState("/e/p/runs/r1", "?sweep=sw1").sweep).toBe("");
    expect(decodeState("/e/p/sweeps/sw2", "").sweep).toBe("sw2");
    const compare = { ...view, page: "compare" as const, selected: ["r1", "r2"], sort: "config.lr", metric: "max:acc", smoothing: 0.5 };
    const there = encodeState(compare);
    expect(there).toBe("/e/p/compare?f=config.lr%3C1&sort=config.lr&sel=r1%2Cr2&smooth=0.5&metric=max%3Aacc&sweep=sw1");
    const [path, search] = there.split("?");
    const back = { ...decodeState(path!, "?" + search), page: "workspace" as const };
    expect(back).toEqual({ ...compare, page: "workspace" });  // the link back: the workspace as it was
    expect(encodeState(back)).toBe("/e/p?f=config.lr%3C1&sort=config.lr&sel=r1%2Cr2&smooth=0.5&metric=max%3Aacc&sweep=sw1");
  });
});

import { describe, expect, it } from "vitest";
import { DEFAULTS, decodeState, encodeState, type ViewState } from "../src/lib/urlstate";

const roundTrip = (state: ViewState) => {
  const url = new URL(encodeState(state), "http://h");
  return decodeState(url.pathname, url.search);
};

describe("URL state", () => {
  it("links reports: a project's list, a report, a share token's page", () => {
    expect(encodeState({ ...DEFAULTS, page: "reports", entity: "team", project: "lm" })).toBe("/team/lm/reports");
    expect(encodeState({ ...DEFAULTS, page: "report", entity: "team", project: "lm", report: "r 1" })).toBe("/reports/r%201");
    expect(encodeState({ ...DEFAULTS, page: "shared", report: "tok" })).toBe("/shared/tok");
    expect(decodeState("/reports/r%201", "?edit=1")).toMatchObject({ page: "report", report: "r 1", entity: "" });
    expect(decodeState("/shared/tok", "")).toMatchObject({ page: "shared", report: "tok" });
    expect(decodeState("/team/lm/reports", "")).toMatchObject({ page: "reports", entity: "team", project: "lm" });
    expect(decodeState("/reports", "").page).toBe("projects");
  });
  it("keeps the defaults out of the link", () => {
    expect(encodeState(DEFAULTS)).toBe("/");
    expect(encodeState({ ...DEFAULTS, page: "workspace", entity: "research", project: "lm" })).toBe("/research/lm");
  });
  it("round-trips a full workspace view", () => {
    const state: ViewState = { ...DEFAULTS, page: "workspace", entity: "re search", project: "lm/v2?",
      filters: ["config.lr<1e-3", "summary.val/acc>=0.9"], sort: "-summary.val/acc", selected: ["a1", "b2"],
      columns: ["config.lr", "summary.val/acc"], group: "config.optimizer", x: "_relative", smoothing: 0.6, log: true,
      range: [10, 250.5], tab: "overview", metric: "max:val/acc", report: "" };
    expect(roundTrip(state)).toEqual(state);
  });
  it("round-trips the run, compare and artifacts pages", () => {
    for (const page of ["run", "compare", "artifacts"] as const) {
      const state: ViewState = { ...DEFAULTS, page, entity: "e", project: "p", run: page === "run" ? "r1" : "", tab: page === "run" ? "media" : "overview" };
      expect(roundTrip(state)).toEqual(state);
    }
  });
  it("falls back to defaults for unreadable settings", () => {
    const got = decodeState("/e/p", "?smooth=7&range=5~1&x=&metric=best:acc");
    expect(got.metric).toBe("");
    expect(got.smoothing).toBe(0);
    expect(got.range).toBeNull();
    expect(got.x).toBe("_step");
  });
});

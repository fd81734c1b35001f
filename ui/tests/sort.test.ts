import { describe, expect, it } from "vitest";
import { sortRuns } from "../src/lib/sort";

const runs = [
  { id: "a", created_at: 1, v: 3 as unknown },
  { id: "b", created_at: 2, v: "x" as unknown },
  { id: "c", created_at: 3, v: undefined as unknown },
  { id: "d", created_at: 4, v: 1 as unknown },
  { id: "e", created_at: 5, v: { $f: "inf" } as unknown },
  { id: "f", created_at: 6, v: 3 as unknown },
];
const value = (run: (typeof runs)[number]) => run.v;

describe("sortRuns", () => {
  it("ascending: numbers, then text, then missing; ties in creation order", () => {
    expect(sortRuns(runs, "v", value).map((r) => r.id)).toEqual(["d", "a", "f", "e", "b", "c"]);
  });
  it("descending: text, then numbers descending, then missing", () => {
    expect(sortRuns(runs, "-v", value).map((r) => r.id)).toEqual(["b", "e", "a", "f", "d", "c"]);
  });
  it("does not change its input", () => {
    const before = runs.map((r) => r.id);
    sortRuns(runs, "-v", value);
    expect(runs.map((r) => r.id)).toEqual(before);
  });
});

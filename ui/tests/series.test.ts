import { describe, expect, it } from "vitest";
import { align, appendPoints, fromBuckets, fromRaw, valueAt } from "../src/lib/series";

describe("fromBuckets", () => {
  const buckets = { x0: [0, 10], x1: [9, 10], first: [1, 7], last: [2, 7], min: [0.5, 7], max: [100, 7], count: [10, 1] };
  it("draws the line through each bucket's last value at its last x, with min/max as the band", () => {
    const d = fromBuckets(buckets);
    expect(d.x).toEqual([9, 10]);
    expect(d.y).toEqual([2, 7]);
    expect(d.lo).toEqual([0.5, 7]);
    expect(d.hi).toEqual([100, 7]);  // the spike survives
    expect(d.bucketed).toBe(true);
  });
  it("says it is exact when every bucket holds one point", () => {
    expect(fromBuckets({ ...buckets, count: [1, 1] }).bucketed).toBe(false);
  });
  it("decodes tagged non-finite values to gaps", () => {
    const d = fromBuckets({ x0: [0], x1: [0], first: [{ $f: "nan" }], last: [{ $f: "nan" }], min: [{ $f: "inf" }], max: [1], count: [1] });
    expect(d.y).toEqual([null]);
    expect(d.lo).toEqual([null]);
    expect(d.hi).toEqual([1]);
  });
});

describe("align", () => {
  it("merges series onto one sorted x axis with nulls where a series has no point", () => {
    const a = fromRaw({ x: [0, 2], y: [1, 3] });
    const b = fromBuckets({ x0: [0], x1: [1], first: [5], last: [6], min: [4], max: [9], count: [2] });
    const { data, columns } = align([a, b]);
    expect(data[0]).toEqual([0, 1, 2]);
    expect(data[1]).toEqual([1, null, 3]);
    expect(data[2]).toEqual([null, 6, null]);
    expect(data[3]).toEqual([null, 4, null]);
    expect(data[4]).toEqual([null, 9, null]);
    expect(columns).toEqual([{ run: 0, role: "line" }, { run: 1, role: "line" }, { run: 1, role: "lo" }, { run: 1, role: "hi" }]);
  });
});

describe("live points and readouts", () => {
  it("appends only points after the series' end", () => {
    const d = appendPoints(fromRaw({ x: [0, 1], y: [1, 2] }), [1, 2, 3], [9, 3, 4]);
    expect(d.x).toEqual([0, 1, 2, 3]);
    expect(d.y).toEqual([1, 2, 3, 4]);
  });
  it("reads the value at or before an x", () => {
    const d = fromRaw({ x: [0, 10, 20], y: [1, 2, 3] });
    expect(valueAt(d, 15)).toEqual({ x: 10, y: 2 });
    expect(valueAt(d, 20)).toEqual({ x: 20, y: 3 });
    expect(valueAt(d, -1)).toBeNull();
  });
});

import { describe, expect, it } from "vitest";
import { emaSmooth } from "../src/lib/smoothing";

describe("emaSmooth", () => {
  it("is the identity at weight 0", () => {
    expect(emaSmooth([3, 1, 4, 1, 5], 0)).toEqual([3, 1, 4, 1, 5]);
  });
  it("is debiased like TensorBoard: a constant stays constant from the first point", () => {
    for (const v of emaSmooth([2, 2, 2, 2], 0.9)) expect(v).toBeCloseTo(2, 12);
  });
  it("matches the debiased recurrence", () => {
    const w = 0.6;
    const values = [1, 5, 2, 8];
    let last = 0;
    const expected = values.map((v, i) => { last = last * w + (1 - w) * v; return last / (1 - w ** (i + 1)); });
    const got = emaSmooth(values, w);
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 12));
    expect(got[0]).toBeCloseTo(1, 12);
  });
  it("passes gaps and non-finite points through without disturbing the average", () => {
    const got = emaSmooth([1, null, NaN, 1], 0.5);
    expect(got[1]).toBeNull();
    expect(got[2]).toBeNaN();
    expect(got[3]).toBeCloseTo(1, 12);
  });
  it("refuses a weight outside [0, 1)", () => {
    expect(() => emaSmooth([1], 1)).toThrow(RangeError);
    expect(() => emaSmooth([1], -0.1)).toThrow(RangeError);
  });
});

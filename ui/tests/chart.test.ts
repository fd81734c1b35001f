import { describe, expect, it } from "vitest";
import { stepLabel } from "../src/components/Chart";

describe("step ticks", () => {
  it("shortens round large steps and keeps the rest exact", () => {
    expect(stepLabel(20000)).toBe("20k");
    expect(stepLabel(1_500_000)).toBe("1.5M");
    expect(stepLabel(1_000_000)).toBe("1M");
    expect(stepLabel(9000)).toBe("9000");
    expect(stepLabel(12345)).toBe("12345");
    expect(stepLabel(0)).toBe("0");
  });
});

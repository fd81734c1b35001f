// Values arrive encoded like the run log: NaN and ±Inf as {"$f": "nan" | "inf" | "-inf"}.

export type Encoded = unknown;

/** A number from an encoded value, or null when it is not numeric. */
export function toNumber(value: Encoded): number | null {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value !== null && typeof value === "object" && "$f" in value) {
    const tag = (value as { $f: string }).$f;
    return tag === "nan" ? NaN : tag === "inf" ? Infinity : tag === "-inf" ? -Infinity : null;
  }
  return null;
}

/** Short human text for any encoded value (config cells, summaries, readouts). */
export function display(value: Encoded): string {
  if (value === null || value === undefined) return "";
  const number = toNumber(value);
  if (number !== null && typeof value !== "boolean") return formatNumber(number);
  if (typeof value === "string") return value;
  if (typeof value === "object" && "$m" in (value as object)) {
    const media = (value as { $m: { kind?: string } }).$m;
    return `[${media.kind ?? "media"}]`;
  }
  return JSON.stringify(value);
}

export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  return String(Number(value.toPrecision(6)));
}

/** Nested config/summary trees flattened to "a.b" keys (media and lists kept whole). */
export function flatten(tree: Record<string, unknown>, prefix = ""): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(tree)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (value !== null && typeof value === "object" && !Array.isArray(value) && !("$f" in value) && !("$m" in value)) {
      Object.assign(out, flatten(value as Record<string, unknown>, name));
    } else {
      out[name] = value;
    }
  }
  return out;
}

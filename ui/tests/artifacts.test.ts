import { describe, expect, it } from "vitest";
import type { ArtifactVersionInfo } from "../src/api";
import { formatBytes, fromCollections, layout, webLink } from "../src/lib/lineage";

const run = (id: string) => ({ id, entity: "research", project: "p", name: `run-${id}`, state: "finished" });
const version = (name: string, n: number, digest: string, by: string | null, users: string[]): ArtifactVersionInfo => ({
  entity: "research", project: "p", name, type: "model", version: n, ref: `${name}:v${n}`, digest, aliases: [],
  size: 10, file_count: 1, description: null, metadata: {}, created_at: 0,
  created_by: by ? run(by) : null, used_by: users.map(run),
});

describe("artifact versions from the server's collections", () => {
  it("keeps producers and consumers as runs and versions with one digest in two collections apart", () => {
    const lineage = fromCollections([version("ckpt", 0, "d1", "a", ["b"]), version("copy", 0, "d1", "c", [])]);
    expect(lineage.runs).toEqual({ a: { name: "run-a", state: "finished" }, b: { name: "run-b", state: "finished" },
      c: { name: "run-c", state: "finished" } });
    const { nodes, edges } = layout(lineage);
    expect(nodes.map((n) => n.label).sort()).toEqual(["ckpt:v0", "copy:v0", "run-a", "run-b", "run-c"]);
    expect(edges).toEqual([["run:a", "ckpt@d1"], ["ckpt@d1", "run:b"], ["run:c", "copy@d1"]]);
    expect(nodes.find((n) => n.id === "run:b")!.layer).toBe(2);
  });

  it("formats sizes in decimal units and keeps small ones exact", () => {
    expect(formatBytes(12)).toBe("12 B");
    expect(formatBytes(123_457)).toBe("123.5 KB");
    expect(formatBytes(5_000_000_000)).toBe("5.00 GB");
    expect(formatBytes(null)).toBe("?");
  });
});

describe("a reference's link", () => {
  it("links only http and https addresses, never a script or data URI a manifest holds as text", () => {
    expect(webLink("https://example.com/data/train.csv")).toBe("https://example.com/data/train.csv");
    expect(webLink("http://127.0.0.1:9000/b/k")).toBe("http://127.0.0.1:9000/b/k");
    for (const uri of ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,<script>x</script>",
      "s3://bucket/key", "file:///etc/passwd", "not a uri", "", null, undefined]) {
      expect(webLink(uri)).toBeNull();
    }
  });
});

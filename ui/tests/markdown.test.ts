// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../src/lib/markdown";

function dom(html: string): HTMLElement {
  const box = document.createElement("div");
  box.innerHTML = html;
  return box;
}

/** Everything a browser could run from the rendered HTML: scripts, on* attributes, script-scheme URLs. */
function runnable(html: string): string[] {
  const found: string[] = [];
  for (const el of dom(html).querySelectorAll("*")) {
    if (["SCRIPT", "IFRAME", "OBJECT", "EMBED", "STYLE", "FORM"].includes(el.tagName)) found.push(el.tagName);
    for (const attr of el.attributes) {
      if (attr.name.startsWith("on")) found.push(`${el.tagName}[${attr.name}]`);
      if (["href", "src", "action", "formaction", "xlink:href"].includes(attr.name) && /^\s*(javascript|vbscript|data):/i.test(attr.value))
        found.push(`${el.tagName}[${attr.name}=${attr.value}]`);
    }
  }
  return found;
}

const PAYLOADS = [
  "<script>alert(1)</script>",
  "<img src=x onerror=alert(1)>",
  "<svg onload=alert(1)>",
  "<a href=\"javascript:alert(1)\">x</a>",
  "[click](javascript:alert(1))",
  "[click](JaVaScRiPt:alert(1))",
  "[click]( javascript:alert(1))",
  "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
  "![x](javascript:alert(1))",
  "<iframe src=\"javascript:alert(1)\"></iframe>",
  "<details open ontoggle=alert(1)>",
  "<body onload=alert(1)>",
  "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
  "$\\href{javascript:alert(1)}{x}$",
  "$$\\url{javascript:alert(1)}$$",
  "<style>@import 'http://evil/x.css'</style>",
  "[a](vbscript:msgbox(1))",
  "<a href=\"&#106;avascript:alert(1)\">x</a>",
];

describe("report markdown", () => {
  it("renders headings, lists, links, code and math", () => {
    const html = renderMarkdown("# Title\n\n- one\n- two\n\n[docs](https://example.org/a) `x = 1`\n\n```\ncode block\n```\n\nInline $a^2+b^2$ and\n\n$$\\sum_i x_i$$\n");
    const box = dom(html);
    expect(box.querySelector("h1")?.textContent).toBe("Title");
    expect(box.querySelectorAll("li").length).toBe(2);
    const a = box.querySelector("a")!;
    expect(a.getAttribute("href")).toBe("https://example.org/a");
    expect(a.getAttribute("rel")).toBe("noopener noreferrer");
    expect(box.querySelector("code")?.textContent).toBe("x = 1");
    expect(box.querySelector("pre code")?.textContent).toBe("code block\n");
    expect(box.querySelectorAll(".katex").length).toBe(2);
    expect(box.querySelector(".math-block .katex-display")).not.toBeNull();
  });

  it("keeps prices as text, not math", () => {
    expect(dom(renderMarkdown("costs $5 and $6 total")).querySelector(".katex")).toBeNull();
  });

  it.each(PAYLOADS)("renders %s inert", (payload) => {
    const html = renderMarkdown(`before\n\n${payload}\n\nafter`);
    expect(runnable(html)).toEqual([]);
    expect(html).toContain("after");
  });

  it("keeps the text of raw HTML visible as text", () => {
    expect(dom(renderMarkdown("<script>alert(1)</script>")).textContent).toContain("<script>alert(1)</script>");
  });
});

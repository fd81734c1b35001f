// A report's Markdown as safe HTML: markdown-it (raw HTML off, so any tag in the text stays text), KaTeX for
// $...$ and $$...$$, then DOMPurify over the result (no script, no event-handler attributes, no javascript: or
// data: links), so what a report's author writes renders inert whatever it holds.

import DOMPurify from "dompurify";
import katex from "katex";
import "katex/dist/katex.min.css";
import MarkdownIt, { type StateBlock, type StateInline } from "markdown-it";

const SAFE_LINK = /^(https?:|mailto:|#|\/(?!\/)|\.{0,2}\/|[^:]*$)/i;

function tex(source: string, display: boolean): string {
  return katex.renderToString(source, { displayMode: display, throwOnError: false, trust: false, strict: "ignore", output: "html" });
}

function inlineMath(state: StateInline, silent: boolean): boolean {
  const start = state.pos;
  if (state.src[start] !== "$" || state.src[start + 1] === "$") return false;
  const end = state.src.indexOf("$", start + 1);
  if (end < 0 || end === start + 1) return false;
  const body = state.src.slice(start + 1, end);
  if (/^\s|\s$/.test(body)) return false;  // "$5 and $6" is prices, not math
  if (!silent) { const token = state.push("math_inline", "math", 0); token.content = body; }
  state.pos = end + 1;
  return true;
}

function blockMath(state: StateBlock, startLine: number, endLine: number, silent: boolean): boolean {
  const first = state.src.slice(state.bMarks[startLine]! + state.tShift[startLine]!, state.eMarks[startLine]);
  if (!first.startsWith("$$")) return false;
  if (silent) return true;
  let body = first.slice(2);
  let line = startLine;
  let closed = body.trimEnd().endsWith("$$") && body.trim().length >= 2;
  if (closed) body = body.trimEnd().slice(0, -2);
  while (!closed && ++line < endLine) {
    const text = state.src.slice(state.bMarks[line]! + state.tShift[line]!, state.eMarks[line]);
    if (text.trimEnd().endsWith("$$")) { body += "\n" + text.trimEnd().slice(0, -2); closed = true; } else body += "\n" + text;
  }
  const token = state.push("math_block", "math", 0);
  token.block = true;
  token.content = body.trim();
  token.map = [startLine, line + 1];
  state.line = line + 1;
  return true;
}

const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
md.validateLink = (url: string) => SAFE_LINK.test(url.trim());
md.inline.ruler.after("escape", "math_inline", inlineMath);
md.block.ruler.after("blockquote", "math_block", blockMath, { alt: ["paragraph", "reference", "blockquote", "list"] });
md.renderer.rules.math_inline = (tokens, i) => tex(tokens[i]!.content, false);
md.renderer.rules.math_block = (tokens, i) => `<div class="math-block">${tex(tokens[i]!.content, true)}</div>\n`;

let hooked = false;
function purify(html: string): string {
  if (!hooked) {
    hooked = true;
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        const href = node.getAttribute("href") ?? "";
        if (href && !SAFE_LINK.test(href.trim())) node.removeAttribute("href");
        if (/^https?:/i.test(href)) { node.setAttribute("rel", "noopener noreferrer"); node.setAttribute("target", "_blank"); }
      }
    });
  }
  return DOMPurify.sanitize(html, { FORBID_TAGS: ["style", "form", "input", "button", "textarea", "iframe", "object", "embed"],
    FORBID_ATTR: ["srcset"], ADD_ATTR: ["target"] });
}

/** Safe HTML for a report's Markdown text (headings, lists, links, code, tables, $math$). */
export function renderMarkdown(text: string): string {
  return purify(md.render(text));
}

"""The report file: YAML front matter, then Markdown with ```panel fenced YAML blocks.

``parse`` splits a text into its front matter and blocks, keeping each part's exact source, so
``serialize(parse(text)) == text`` for every text ``parse`` accepts; ``serialize`` writes blocks built in
Python (no source) in the canonical form, which ``parse`` reads back to the same blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

from tracker_core._errors import TrackerError

__all__ = ["PANEL_TYPES", "Document", "ReportFormatError", "check_panel", "dump_yaml", "parse", "serialize"]

PANEL_TYPES = ("line", "bar", "scalar", "table", "parallel", "scatter", "best", "images", "lineage", "sweep")
_NEEDS = {"line": ("metric",), "bar": ("metric",), "scalar": ("metric",), "best": ("metric",),
          "scatter": ("metric", "param"), "table": ("columns",), "parallel": ("columns",), "images": ("key",),
          "lineage": ("key",), "sweep": ("key",)}
_WITHOUT_RUNS = ("lineage", "sweep")
_TEXT_KEYS = ("title", "metric", "x", "param", "key")
_RUN_SET_KEYS = {"project", "filters", "group", "order", "limit", "ids"}
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*?)\r?\n?$")


class ReportFormatError(TrackerError):
    """A report text that cannot be read: which line, and what is wrong there."""

    def __init__(self, line: int, problem: str) -> None:
        self.line, self.problem = line, problem
        super().__init__(f"line {line}: {problem}")


@dataclass
class Document:
    """A parsed report: front matter (``front``) and blocks, each ``{"kind": "markdown", "text"}`` or
    ``{"kind": "panel", "spec", "source"?}``; ``front_source`` is the front matter's YAML as written."""

    front: dict[str, Any] = field(default_factory=dict)
    blocks: list[dict[str, Any]] = field(default_factory=list)
    front_source: str | None = None


_Dumper: Any = type("_Dumper", (yaml.SafeDumper,), {})
"""Block style, but a list of plain values on one line (``columns: [config.lr, summary.acc]``)."""


def _list(dumper: Any, value: list[Any]) -> Any:
    flat = all(not isinstance(item, (dict, list)) for item in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flat)


_Dumper.add_representer(list, _list)

_Loader: Any = type("_Loader", (yaml.SafeLoader,), {})
"""YAML as JSON holds it: a timestamp stays text (``at: 2026-12-03T08:00:00Z``), as every value of a spec must
travel through the API unchanged."""
_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def load_yaml(source: str) -> Any:
    """The YAML's value, timestamps left as text; raises yaml.YAMLError."""
    return yaml.load(source, Loader=_Loader)  # noqa: S506  # a SafeLoader, less its timestamps


def dump_yaml(value: dict[str, Any]) -> str:
    """Block-style YAML of a mapping, keys in their order; lists of plain values in flow style."""
    return str(yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                         width=100))


def _load_yaml(source: str, first_line: int, what: str) -> dict[str, Any]:
    try:
        loaded = load_yaml(source) if source.strip() else {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = first_line + (mark.line if mark is not None else 0)
        problem = getattr(error, "problem", None) or str(error)
        raise ReportFormatError(line, f"{what} is not valid YAML: {problem}") from None
    if not isinstance(loaded, dict):
        raise ReportFormatError(first_line, f"{what} must be a YAML mapping (key: value lines), not "
                                f"{type(loaded).__name__}")
    return loaded


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def check_panel(spec: Any, line: int = 1) -> dict[str, Any]:
    """The panel spec, checked: a known ``type``, the keys that type needs, and well-formed values.

    Raises:
        ReportFormatError: naming ``line`` (the panel's first line) and the key at fault.
    """
    if not isinstance(spec, dict):
        raise ReportFormatError(line, "a panel must be a YAML mapping")
    kind = spec.get("type")
    if kind not in PANEL_TYPES:
        raise ReportFormatError(line, f"panel type {kind!r} is not one of {', '.join(PANEL_TYPES)}")
    for key in _NEEDS[kind]:
        if key not in spec:
            raise ReportFormatError(line, f"a {kind} panel needs `{key}`")
    for key in _TEXT_KEYS:
        if key in spec and not isinstance(spec[key], str):
            raise ReportFormatError(line, f"panel `{key}` must be text, not {spec[key]!r}")
    if "columns" in spec and not _texts(spec["columns"]):
        raise ReportFormatError(line, "panel `columns` must be a list of field names, e.g. [config.lr, summary.acc]")
    if "goal" in spec and spec["goal"] not in ("min", "max"):
        raise ReportFormatError(line, f"panel `goal` must be min or max, not {spec['goal']!r}")
    runs = spec.get("runs")
    if runs is None and kind not in _WITHOUT_RUNS:
        raise ReportFormatError(line, f"a {kind} panel needs `runs` (a run set: project, filters, order, limit, "
                                "or ids)")
    if runs is not None:
        _check_run_set(runs, line)
    pinned = spec.get("pinned")
    if pinned is not None and not (isinstance(pinned, dict) and isinstance(pinned.get("data"), dict)):
        raise ReportFormatError(line, "panel `pinned` must be a mapping with `at` and `data` (the server writes it)")
    return spec


def _check_run_set(runs: Any, line: int) -> None:
    if not isinstance(runs, dict):
        raise ReportFormatError(line, "panel `runs` must be a mapping (project, filters, group, order, limit, ids)")
    unknown = sorted(set(runs) - _RUN_SET_KEYS)
    if unknown:
        raise ReportFormatError(line, f"run set key {unknown[0]!r} is not one of {', '.join(sorted(_RUN_SET_KEYS))}")
    filters = runs.get("filters")
    if filters is not None and not isinstance(filters, str) and not _texts(filters):
        raise ReportFormatError(line, "run set `filters` must be an expression or a list of them")
    for key in ("project", "group", "order"):
        if runs.get(key) is not None and not isinstance(runs[key], str):
            raise ReportFormatError(line, f"run set `{key}` must be text, not {runs[key]!r}")
    limit = runs.get("limit")
    if limit is not None and (type(limit) is not int or limit < 0):
        raise ReportFormatError(line, f"run set `limit` must be a whole number >= 0, not {limit!r}")
    ids = runs.get("ids")
    if ids is not None and not _texts(ids):
        raise ReportFormatError(line, "run set `ids` must be a list of run ids")


def _front(lines: list[str]) -> tuple[int, str | None, dict[str, Any]]:
    """(index of the first line after the front matter, its YAML source, its mapping)."""
    if not lines or lines[0].rstrip("\r\n") != "---":
        return 0, None, {}
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n") in ("---", "..."):
            source = "".join(lines[1:index])
            return index + 1, source, _load_yaml(source, 2, "the front matter")
    raise ReportFormatError(1, "the front matter opened by `---` has no closing `---` line")


def parse(text: str) -> Document:
    """The front matter and blocks of a report text.

    Raises:
        ReportFormatError: bad front matter YAML, an unclosed or invalid panel block (with its line number).
    """
    lines = text.splitlines(keepends=True)
    start, front_source, front = _front(lines)
    blocks: list[dict[str, Any]] = []
    markdown: list[str] = []
    index = start
    while index < len(lines):
        line = lines[index]
        opened = _FENCE.match(line)
        if opened is None:
            markdown.append(line)
            index += 1
            continue
        fence, info = opened.group(1), opened.group(2).strip()
        end = _closing(lines, index + 1, fence)
        if info.split(" ")[0] != "panel":  # another code block: text, whatever it holds
            stop = len(lines) if end is None else end + 1
            markdown.extend(lines[index:stop])
            index = stop
            continue
        if end is None:
            raise ReportFormatError(index + 1, f"the panel block opened here has no closing {fence} line")
        if markdown:
            blocks.append({"kind": "markdown", "text": "".join(markdown)})
            markdown = []
        source = "".join(lines[index + 1:end])
        spec = check_panel(_load_yaml(source, index + 2, "the panel block"), index + 1)
        block: dict[str, Any] = {"kind": "panel", "spec": spec, "source": source}
        canonical_open, canonical_close = "```panel\n", "```\n"
        if line != canonical_open or lines[end] != canonical_close:
            block["fences"] = [line, lines[end]]
        blocks.append(block)
        index = end + 1
    if markdown:
        blocks.append({"kind": "markdown", "text": "".join(markdown)})
    return Document(front, blocks, front_source)


def _closing(lines: list[str], start: int, fence: str) -> int | None:
    for index in range(start, len(lines)):
        found = _FENCE.match(lines[index])
        if found and found.group(1)[0] == fence[0] and len(found.group(1)) >= len(fence) and not found.group(2).strip():
            return index
    return None


def _same(source: str, value: dict[str, Any]) -> bool:
    try:
        return bool(load_yaml(source) == value)
    except yaml.YAMLError:
        return False


def serialize(document: Document) -> str:
    """The report text: a part's own source where it still says the same, else the canonical form.

    Raises:
        ReportFormatError: a panel spec that ``check_panel`` refuses (line 0: it has no line yet).
    """
    parts: list[str] = []
    if document.front or document.front_source is not None:
        source = document.front_source
        if source is None or (not _same(source, document.front) and (source.strip() or document.front)):
            source = dump_yaml(document.front) if document.front else ""
        parts.append(f"---\n{source}---\n")
    for block in document.blocks:
        if block.get("kind") == "markdown":
            text = block.get("text")
            if not isinstance(text, str):
                raise ReportFormatError(0, "a markdown block needs `text`")
            if parts and not parts[-1].endswith("\n") and text:
                text = "\n" + text
            parts.append(text)
            continue
        if block.get("kind") != "panel":
            raise ReportFormatError(0, f"block kind {block.get('kind')!r} is not markdown or panel")
        spec = check_panel(block.get("spec"), 0)
        source = block.get("source")
        if not isinstance(source, str) or not _same(source, spec):
            source = dump_yaml(spec)
        fences: Any = block.get("fences")
        opening, closing = ("```panel\n", "```\n")
        if _texts(fences) and len(fences) == 2:
            opening, closing = fences
        if parts and not parts[-1].endswith("\n"):
            parts.append("\n")
        parts.append(f"{opening}{source}{closing}")
    return "".join(parts)

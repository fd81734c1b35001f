"""A report's blocks as Python objects: Markdown text, and one panel class per panel type, over a ``RunSet``.

Each panel's ``spec()`` is the YAML mapping of its ```panel block (keys in a fixed order, unset ones left
out); ``block_from_json`` turns the API's ``{"kind", ...}`` form back into these objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from tracker_core.reports._format import check_panel

__all__ = ["PANEL_CLASSES", "BarChart", "BestRun", "Block", "ImageGrid", "LinePlot", "Lineage", "Markdown", "Panel",
           "ParallelCoordinates", "RunSet", "RunsTable", "Scalar", "ScatterPlot", "SweepProgress", "block_from_json"]


@dataclass
class RunSet:
    """A saved query in ``Api().runs``' language (``filters``, ``order``, ``limit``), or ``ids``: an explicit list
    of runs (then ``filters`` is ignored). ``project`` defaults to the report's. ``group`` (``config.<key>``,
    ``group`` or ``job_type``) splits the runs into one group per value: grouped panels draw each group's mean
    (with its min-max band) instead of each run."""

    project: str | None = None
    filters: str | list[str] | None = None
    group: str | None = None
    order: str | None = None
    limit: int | None = None
    ids: list[str] | None = None
    nulls: frozenset[str] = field(default=frozenset(), compare=False, repr=False)  # keys written as null

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in (("project", self.project), ("filters", self.filters),
                                              ("group", self.group), ("order", self.order), ("limit", self.limit),
                                              ("ids", self.ids)) if value is not None or key in self.nulls}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSet:
        return cls(**{key: data.get(key) for key in ("project", "filters", "group", "order", "limit", "ids")},
                   nulls=frozenset(key for key, value in data.items() if value is None))


@dataclass
class Markdown:
    """Markdown text (headings, lists, links, code, ``$...$`` math); end it with a newline (the file joins blocks
    as they are, adding one only before a panel)."""

    text: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": "markdown", "text": self.text}


_ORDER = ("type", "title", "metric", "x", "param", "columns", "goal", "key", "runs", "pinned")


@dataclass
class Panel:
    """A panel block; the subclasses name each type's fields. ``extra`` keeps keys this version does not know,
    ``pinned`` the server's snapshot (``{"at", "data"}``) when pinned."""

    TYPE: ClassVar[str] = ""
    FIELDS: ClassVar[tuple[str, ...]] = ()
    title: str | None = None
    runs: RunSet | None = None
    pinned: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    source: str | None = field(default=None, compare=False, repr=False)  # the YAML as written, kept on a round trip
    fences: list[str] | None = field(default=None, compare=False, repr=False)
    nulls: frozenset[str] = field(default=frozenset(), compare=False, repr=False)  # keys written as null

    def spec(self) -> dict[str, Any]:
        """The panel's YAML mapping, checked.

        Raises:
            ReportFormatError: a field the panel type needs is missing or malformed.
        """
        values: dict[str, Any] = {"type": self.TYPE, "title": self.title,
                                  **{name: getattr(self, name) for name in self.FIELDS},
                                  "runs": self.runs.to_dict() if self.runs is not None else None,
                                  "pinned": self.pinned}
        spec = {key: values[key] for key in _ORDER if values.get(key) is not None or key in self.nulls}
        spec.update({key: value for key, value in self.extra.items() if key not in spec})
        return check_panel(spec, 0)

    def to_json(self) -> dict[str, Any]:
        block: dict[str, Any] = {"kind": "panel", "spec": self.spec()}
        if self.source is not None:
            block["source"] = self.source
        if self.fences is not None:
            block["fences"] = self.fences
        return block


@dataclass
class LinePlot(Panel):
    """A metric over ``x`` (``_step``, ``_runtime``, ``_timestamp`` or another metric), one line per run."""

    TYPE: ClassVar[str] = "line"
    FIELDS: ClassVar[tuple[str, ...]] = ("metric", "x")
    metric: str = ""
    x: str | None = None


@dataclass
class BarChart(Panel):
    """A summary metric of each run as a bar."""

    TYPE: ClassVar[str] = "bar"
    FIELDS: ClassVar[tuple[str, ...]] = ("metric", "goal")
    metric: str = ""
    goal: str | None = None


@dataclass
class Scalar(Panel):
    """One number: the best (``goal``) summary value of the metric over the run set."""

    TYPE: ClassVar[str] = "scalar"
    FIELDS: ClassVar[tuple[str, ...]] = ("metric", "goal")
    metric: str = ""
    goal: str | None = None


@dataclass
class RunsTable(Panel):
    """The runs as rows, with these ``columns`` (``config.lr``, ``summary.val/loss``...)."""

    TYPE: ClassVar[str] = "table"
    FIELDS: ClassVar[tuple[str, ...]] = ("columns",)
    columns: list[str] = field(default_factory=list)


@dataclass
class ParallelCoordinates(Panel):
    """One axis per column, one polyline per run."""

    TYPE: ClassVar[str] = "parallel"
    FIELDS: ClassVar[tuple[str, ...]] = ("columns",)
    columns: list[str] = field(default_factory=list)


@dataclass
class ScatterPlot(Panel):
    """A config value (``param``, x) against a summary metric (``metric``, y)."""

    TYPE: ClassVar[str] = "scatter"
    FIELDS: ClassVar[tuple[str, ...]] = ("metric", "param")
    metric: str = ""
    param: str = ""


@dataclass
class BestRun(Panel):
    """The card of the run with the best value of ``metric`` over its history."""

    TYPE: ClassVar[str] = "best"
    FIELDS: ClassVar[tuple[str, ...]] = ("metric", "goal")
    metric: str = ""
    goal: str | None = None


@dataclass
class ImageGrid(Panel):
    """The latest images each run logged under the media ``key``."""

    TYPE: ClassVar[str] = "images"
    FIELDS: ClassVar[tuple[str, ...]] = ("key",)
    key: str = ""


@dataclass
class Lineage(Panel):
    """An artifact's lineage graph; ``key`` is ``name:vN`` (or ``name:alias``)."""

    TYPE: ClassVar[str] = "lineage"
    FIELDS: ClassVar[tuple[str, ...]] = ("key",)
    key: str = ""


@dataclass
class SweepProgress(Panel):
    """A sweep's progress; ``key`` is the sweep id."""

    TYPE: ClassVar[str] = "sweep"
    FIELDS: ClassVar[tuple[str, ...]] = ("key",)
    key: str = ""


PANEL_CLASSES: dict[str, type[Panel]] = {cls.TYPE: cls for cls in (
    LinePlot, BarChart, Scalar, RunsTable, ParallelCoordinates, ScatterPlot, BestRun, ImageGrid, Lineage,
    SweepProgress)}

Block = Markdown | Panel


def block_from_json(block: dict[str, Any]) -> Block:
    """A ``{"kind": "markdown", "text"}`` or ``{"kind": "panel", "spec"}`` block as its object.

    Raises:
        ReportFormatError: a panel spec that ``check_panel`` refuses.
    """
    if block.get("kind") == "markdown":
        return Markdown(str(block.get("text", "")))
    spec = dict(check_panel(block.get("spec"), 0))
    cls = PANEL_CLASSES[spec.pop("type")]
    known = {name: spec.pop(name) for name in cls.FIELDS if name in spec}
    runs = spec.pop("runs", None)
    nulls = frozenset(key for key in ("title", "pinned", *cls.FIELDS) if key in block["spec"]
                      and block["spec"][key] is None)
    panel = cls(title=spec.pop("title", None), runs=RunSet.from_dict(runs) if runs is not None else None,
                pinned=spec.pop("pinned", None), extra=spec, source=block.get("source"), fences=block.get("fences"),
                nulls=nulls, **known)
    return panel

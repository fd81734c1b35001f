"""Reports: live documents of runs, charts and text, stored as Markdown files.

The file format (``tracker report push/pull`` round-trip it byte for byte)::

    ---
    title: Weekly best runs
    project: research/foundation_model_v2
    ---
    # Text is Markdown: headings, lists, links, code, $math$ and $$display math$$.

    ```panel
    type: line               # line | bar | scalar | table | parallel | scatter | best | images | lineage | sweep
    title: Validation loss
    metric: val/loss         # line, bar, scalar, best; scatter: the y axis
    x: _step                 # line: _step | _runtime | _timestamp | another metric
    runs:                    # the run set: a saved query, as Api().runs takes it ...
      filters: "config.lr<1e-3"
      group: config.optimizer  # optional: one group per value of config.<key>, group or job_type
      order: -summary.val/accuracy
      limit: 10              # ... or ids: [run ids] (then filters are ignored)
    ```

- Front matter: a YAML mapping between ``---`` lines; ``title`` and ``project`` (``entity/project`` on a team
  server; ``project`` alone in a local store).
- A panel is a fenced code block (three or more backticks or tildes) whose info string is ``panel``; its body
  is a YAML mapping: ``type`` (one of ``PANEL_TYPES``), ``title``, and per type: ``metric`` (line, bar,
  scalar, best, scatter), ``x`` (line), ``param`` (scatter: the config key on x), ``columns`` (table,
  parallel), ``goal`` (``min``/``max``), ``key`` (images: the media key; lineage: ``name:vN``; sweep: its id),
  ``runs`` (every type but lineage and sweep; keys ``project``, ``filters``, ``group``, ``order``, ``limit``,
  ``ids``; ``group`` is ``config.<key>``, ``group`` or ``job_type``: the panel data then holds each group's
  runs, mean/min/max/count series for a line panel and summary mean/min/max for a panel with a metric, as
  ``_groups`` computes them) and ``pinned`` (``{at, data}``: a snapshot the server writes when the panel is
  pinned, groups included). Other keys are kept as they are.
- Everything else is Markdown text, kept exactly; a code block of another language is text, even when it
  holds ``` ```panel ``` lines.

``parse`` gives a ``Document`` (front matter and blocks, each part with its source, so
``serialize(parse(text)) == text``); a bad panel raises ``ReportFormatError`` naming its line. ``Report``
holds blocks as objects (``Markdown``, ``LinePlot``, ``BestRun``... over a ``RunSet``) and ``save()``s them
to the team server (when one is configured and the mode is online) or to ``<store>/.reports/``.
"""

from __future__ import annotations

from tracker_core.reports._blocks import (
    PANEL_CLASSES,
    BarChart,
    BestRun,
    Block,
    ImageGrid,
    Lineage,
    LinePlot,
    Markdown,
    Panel,
    ParallelCoordinates,
    RunSet,
    RunsTable,
    Scalar,
    ScatterPlot,
    SweepProgress,
    block_from_json,
)
from tracker_core.reports._format import PANEL_TYPES, Document, ReportFormatError, check_panel, parse, serialize
from tracker_core.reports._report import Report
from tracker_core.reports._store import LocalReports, ReportNotFoundError, StaleRevisionError

__all__ = ["PANEL_CLASSES", "PANEL_TYPES", "BarChart", "BestRun", "Block", "Document", "ImageGrid", "LinePlot",
           "Lineage", "LocalReports", "Markdown", "Panel", "ParallelCoordinates", "Report", "ReportFormatError",
           "ReportNotFoundError", "RunSet", "RunsTable", "Scalar", "ScatterPlot", "StaleRevisionError",
           "SweepProgress", "block_from_json", "check_panel", "parse", "serialize"]

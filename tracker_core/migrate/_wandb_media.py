"""W&B's media values in history rows (``{"_type": "image-file", "path": ...}``) as this tracker's media.

Files are read from the W&B run folder's ``files/``. Images, image lists, tables, histograms, audio
and video move; a custom chart (``wandb.plot.*``: a table plus a ``_wandb.visualize`` panel in the
config) also becomes a ``Plot`` with a Vega-Lite spec of the same kind. What has no counterpart
(plotly, html, 3D objects, molecules, bokeh) is counted in the fidelity report.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import orjson

from tracker_core._encoding import Problem
from tracker_core._errors import TrackerError
from tracker_core._media_store import store_media
from tracker_core.media import Audio, Histogram, Image, Media, MediaError, Plot, Table, Video
from tracker_core.migrate._fidelity import Fidelity

__all__ = ["WandbMedia", "chart_spec", "copy_run_files"]

_MARKS = {"wandb/line/v0": "line", "wandb/scatter/v0": "point", "wandb/bar/v0": "bar",
          "wandb/histogram/v0": "bar", "wandb/area/v0": "area"}


def chart_spec(preset: str, fields: dict[str, Any], title: str | None) -> dict[str, Any] | None:
    """A Vega-Lite spec for one of W&B's chart presets, or None for one that is not known here."""
    mark = _MARKS.get(preset)
    if mark is None:
        return None
    if preset == "wandb/histogram/v0":
        value = fields.get("value")
        if not isinstance(value, str):
            return None
        encoding: dict[str, Any] = {"x": {"field": value, "bin": True, "type": "quantitative"},
                                    "y": {"aggregate": "count", "type": "quantitative"}}
    else:
        x, y = fields.get("x") or fields.get("label"), fields.get("y") or fields.get("value")
        if not isinstance(x, str) or not isinstance(y, str):
            return None
        encoding = {"x": {"field": x, "type": "nominal" if preset == "wandb/bar/v0" else "quantitative"},
                    "y": {"field": y, "type": "quantitative"}}
        color = fields.get("stroke") or fields.get("color")
        if isinstance(color, str):
            encoding["color"] = {"field": color, "type": "nominal"}
    spec: dict[str, Any] = {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "mark": mark,
                            "encoding": encoding}
    if title:
        spec["title"] = title
    return spec


def copy_run_files(files: str, target: str, fidelity: Fidelity) -> None:
    """Copy a W&B run's ``files/`` folder into ``target``, all but its top ``media/`` (the rows that name those
    files store them again as media), counting each file in ``fidelity``.

    Raises:
        OSError: a file cannot be read or written.
    """
    for current, subfolders, names in os.walk(files):
        if current == files:
            subfolders[:] = [s for s in subfolders if s != "media"]
        for name in names:
            source = os.path.join(current, name)
            destination = os.path.join(target, os.path.relpath(source, files))
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            shutil.copyfile(source, destination)
            fidelity.count("files")


class WandbMedia:
    """Converts the media of one W&B run; ``charts`` holds its ``_wandb.visualize`` panels by key."""

    def __init__(self, fidelity: Fidelity) -> None:
        self.fidelity = fidelity
        self.charts: dict[str, dict[str, Any]] = {}
        self._tables: dict[str, Table] = {}  # the last table read, by key (a chart's data)

    def convert(self, folder: str, key: str, value: dict[str, Any], step: int) -> Media | list[Media] | None:
        """Our medium for the W&B value ``value`` logged under ``key``; None (counted) when it cannot move."""
        kind = value.get("_type")
        files = os.path.join(folder, "files")
        try:
            return self._convert(files, key, kind, value)
        except (MediaError, OSError, ValueError, TypeError, KeyError) as error:
            self.fidelity.drop("media", f"a W&B {kind} could not be read: {error}")
            self.fidelity.error(f"{folder} key {key!r} step {step}", f"a {kind} could not be read ({error})")
            return None

    def _convert(self, files: str, key: str, kind: Any, value: dict[str, Any]) -> Media | list[Media] | None:
        def path(name: Any) -> str:
            if not isinstance(name, str) or os.path.isabs(name) or ".." in name.split("/"):
                raise ValueError(f"a file name {name!r} outside the run folder")
            return os.path.join(files, name)

        caption = value.get("caption") if isinstance(value.get("caption"), str) else None
        if kind == "image-file":
            return Image(path(value["path"]), caption=caption)
        if kind == "images/separated":
            captions = value.get("captions") or [None] * len(value["filenames"])
            return [Image(path(name), caption=text if isinstance(text, str) else None)
                               for name, text in zip(value["filenames"], captions, strict=False)]
        if kind == "table-file":
            with open(path(value["path"]), "rb") as handle:
                document = orjson.loads(handle.read())
            table = Table(columns=[str(c) for c in document["columns"]], data=document["data"])
            self._tables[key] = table
            return table
        if kind == "histogram":
            if "packedBins" in value:
                packed = value["packedBins"]
                bins = [packed["min"] + packed["size"] * i for i in range(int(packed["count"]) + 1)]
            else:
                bins = value["bins"]
            return Histogram(np_histogram=(value["values"], bins))
        if kind == "audio-file":
            rate = value.get("sample_rate")
            return Audio(path(value["path"]), sample_rate=rate if isinstance(rate, int) else None, caption=caption)
        if kind == "video-file":
            return Video(path(value["path"]), caption=caption)
        self.fidelity.drop("media", f"W&B's {kind} has no counterpart here")
        return None

    def store(self, folder: str, run_path: str, flat: dict[str, Any], key: str, value: dict[str, Any],
              step: int) -> None:
        """Convert the media ``value`` of ``key`` and store it in the run folder ``run_path``, setting ``flat[key]``
        (and the custom chart's Plot beside it); what cannot be stored is counted in the fidelity report."""
        medium = self.convert(folder, key, value, step)
        if medium is None:
            return
        problems: list[Problem] = []
        try:
            flat[key] = store_media(medium, run_path, key, problems)
        except (TrackerError, OSError, TypeError, ValueError) as error:
            self.fidelity.drop("media", f"could not be stored: {error}")
            return
        for problem in problems:
            self.fidelity.drop("media parts", problem.reason)
        self.fidelity.count("media")
        chart = self.chart_for(folder, key, value)
        if chart is not None:
            flat[key.removesuffix("_table")] = store_media(chart, run_path, key)
            self.fidelity.count("media")

    def chart_for(self, folder: str, key: str, value: dict[str, Any]) -> Plot | None:
        """The Plot of the custom chart whose table was logged as ``key`` (``<chart>_table``), if any."""
        if value.get("_type") != "table-file" or not key.endswith("_table"):
            return None
        panel = self.charts.get(key.removesuffix("_table"))
        table = self._tables.get(key)
        if panel is None or table is None:
            return None
        config = panel.get("panel_config") or {}
        preset = config.get("panelDefId")
        title = (config.get("stringSettings") or {}).get("title")
        spec = chart_spec(str(preset), config.get("fieldSettings") or {}, title if isinstance(title, str) else None)
        if spec is None:
            self.fidelity.drop("custom charts", f"W&B's chart preset {preset!r} has no Vega-Lite counterpart here "
                               "(its table moved)")
            return None
        columns = table.columns
        return Plot(spec, [dict(zip(columns, row, strict=False)) for row in table.data])

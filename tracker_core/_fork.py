"""``init(fork_from="<id>?_step=N")``: a new run that starts with another run's history up to step N.

As in W&B, the fork is a new run (its own id) and its next step is N + 1. What it copies, as new
records of its own (the source is never touched): the source's metric definitions, its config
(under the fork's own ``config=``), its history rows up to step N as the source's log holds them
after its rewinds, the media files those rows name, the hand-set summary values
(``run.summary["x"] = ...`` records written before the source logged past step N) and the saved files
of its ``files/`` folder (a file the fork already has is kept). ``run.json`` and a ``meta`` record note
``forked_from = {"run_id", "project", "step"}``.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tracker_core import _lifecycle
from tracker_core._encoding import decode_tree
from tracker_core._errors import RunNotFoundError
from tracker_core._run_files import note_meta
from tracker_core._step import MetricDefinition
from tracker_core.media._stored import stored_files
from tracker_core.store._log import parse_records, read_log
from tracker_core.store._run_dir import RunDir

if TYPE_CHECKING:
    from tracker_core._run import Run

__all__ = ["find_source", "fork_history"]

_lifecycle.takes_run_locks(__file__)

CONSOLE_LOG = "output.log"
"""The run's captured stdout/stderr in ``files/`` (see ``_background``): not a saved file."""


def find_source(root: str, project: str, run_id: str) -> RunDir:
    """The run to fork: in the fork's project, else the only project of the store that has it.

    Raises:
        RunNotFoundError: no run with that id in the store (or several).
    """
    from tracker_core.api import Api

    same_project = RunDir(root, project, run_id)
    if same_project.exists():
        return same_project
    try:
        stored = Api(root).run(run_id)
    except RunNotFoundError:
        raise RunNotFoundError(f"fork_from: no run {run_id!r} to fork in {root}",
                               "pass fork_from='<id of a run in this store>?_step=<step>'") from None
    return RunDir(root, stored.project, stored.id)


class _Kept:
    """What a fork takes from its source's log."""

    def __init__(self) -> None:
        self.definitions: list[dict[str, Any]] = []
        self.rows: list[dict[str, Any]] = []
        self.config: dict[str, Any] = {}
        self.summaries: list[dict[str, Any]] = []


def _kept_records(source: RunDir, step: int) -> _Kept:
    """The source's metric definitions, config, log records up to ``step`` after its rewinds, and the
    summary records written while its last logged step was at most ``step``."""
    kept = _Kept()
    rows, definitions, config = kept.rows, kept.definitions, kept.config
    last_step: int | None = None
    for record in parse_records(read_log(source.events)):
        kind = record.get("type")
        if kind == "log" and type(record.get("step")) is int:
            rows.append(record)
            last_step = record["step"]
        elif kind == "summary" and (last_step is None or last_step <= step):
            kept.summaries.append({key: record[key] for key in ("set", "unset") if key in record})
        elif kind == "rewind":
            last_kept = int(record["step"])
            rows[:] = [row for row in rows if row["step"] <= last_kept]
            last_step = last_kept
        elif kind == "define_metric":
            definitions.append(record["metric"])
        elif kind == "config":
            config.update(decode_tree(record.get("data") or {}))  # type: ignore[call-overload]
    rows[:] = [row for row in rows if row["step"] <= step]
    return kept


def _media_files(value: Any, run_dir: str) -> Iterator[str]:
    """The files a logged (tagged) value names, relative to the run's folder: media, their mask and box
    layers, tables' cells, in lists and dicts."""
    if isinstance(value, dict):
        media = value.get("$m") if len(value) == 1 else None
        if isinstance(media, dict):
            yield from (name for name, _digest in stored_files(media, run_dir))
            return
        for item in value.values():
            yield from _media_files(item, run_dir)
    elif isinstance(value, list):
        for item in value:
            yield from _media_files(item, run_dir)


def _copy_files(source: str, target: str) -> None:
    """The source's saved files into the fork's ``files/``, keeping their paths; links are not followed,
    and the source's console log (``output.log``) stays its own."""
    for folder, _subfolders, names in os.walk(source):
        relative = os.path.relpath(folder, source)
        for name in names:
            if relative == "." and name == CONSOLE_LOG:
                continue
            origin = os.path.join(folder, name)
            destination = os.path.normpath(os.path.join(target, relative, name))
            if os.path.islink(origin) or not os.path.isfile(origin) or os.path.exists(destination):
                continue
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            shutil.copy2(origin, destination)


def fork_history(run: Run, source: RunDir, step: int) -> None:
    """Copy ``source``'s history up to ``step`` into ``run`` (just opened) and note the fork.

    Raises:
        OSError: the source's log cannot be read.
    """
    kept = _kept_records(source, step)
    run.config.setdefaults(kept.config)
    for definition in kept.definitions:
        run._rows.add_definition(MetricDefinition.from_record(definition))
    target = run.dir or ""
    records = run._records
    with records.lock:
        writer = records.writer
        if writer is None or records.inactive is not None:
            return
        for row in kept.rows:
            for name in _media_files(row.get("data"), source.path):
                destination = os.path.join(target, name)
                if not os.path.exists(destination) and os.path.exists(os.path.join(source.path, name)):
                    os.makedirs(os.path.dirname(destination), exist_ok=True)
                    shutil.copyfile(os.path.join(source.path, name), destination)
            writer.append_row({"seq": writer.seq + 1, "t": time.time(), "type": "log", "step": row["step"],
                               "data": row.get("data") or {}})
        for summary in kept.summaries:
            writer.append_row({"seq": writer.seq + 1, "t": time.time(), "type": "summary", **summary})
        run._rows.step = max(run._rows.step, step + 1)
    _copy_files(source.files, os.path.join(target, "files"))
    note_meta(records, {"forked_from": {"run_id": source.run_id, "project": source.project, "step": step}})

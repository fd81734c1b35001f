"""A per-project cache of what listing runs needs, rebuilt from the logs when missing or stale.

``<root>/<project>/.index.json`` maps each run id to the size and mtime of its log and a
digest of its state (metadata, config, summary in our shape and in W&B's, final state, per-metric
extremes). An entry whose log changed is rebuilt by replaying that log; the logs stay the source of
truth, and a missing, unreadable or old-format index is simply rebuilt. Writing the index is best effort.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import orjson

from tracker_core._encoding import encode_tree
from tracker_core.store._log import ReadStats, parse_records, read_log
from tracker_core.store._replay import RunState
from tracker_core.store._run_dir import RunDir

__all__ = ["INDEX_NAME", "digest", "project_digests", "replay", "run_digest"]

INDEX_NAME = ".index.json"
_INDEX_VERSION = 1
_TRACEBACK_LIMIT = 8192


def digest(state: RunState, stats: ReadStats) -> dict[str, Any]:
    """The JSON-safe part of a run's state that listing and sorting need."""
    return {
        "meta": state.meta,
        "config": encode_tree(state.config),
        "summary": encode_tree(state.summary.snapshot()),
        "summary_wandb": encode_tree({**state.summary.wandb_snapshot(), **_wandb_extras(state)}),
        "extremes": encode_tree(state.extremes),
        "status": state.status,
        "exit_code": state.exit_code,
        "traceback": (state.traceback or "")[-_TRACEBACK_LIMIT:] or None,
        "signal": state.signal,
        "preempted": state.preempted,
        "first_t": state.first_t,
        "last_t": state.last_t,
        "ended_t": state.ended_t,
        "last_seq": state.last_seq,
        "seq_gaps": state.seq_gaps,
        "writes_failed": state.writes_failed,
        "bad_lines": stats.bad_lines,
        "torn_tail": stats.torn_tail,
    }


def _wandb_extras(state: RunState) -> dict[str, Any]:
    """The keys W&B adds to every summary: ``_step`` (the last step), ``_timestamp`` (the last record's
    time) and ``_runtime`` (seconds from the start to it)."""
    extras: dict[str, Any] = {}
    if state.next_step > 0:
        extras["_step"] = state.next_step - 1
    started = state.meta.get("started")
    if state.last_t is not None:
        extras["_timestamp"] = state.last_t
        if isinstance(started, (int, float)):
            extras["_runtime"] = max(0.0, state.last_t - started)
    return extras


def replay(run_dir: RunDir, keep_rows: bool = False) -> tuple[RunState, ReadStats]:
    """Read a run's whole log; rows are kept when asked or when a rewind needs them. Raises OSError."""
    stats = ReadStats()
    data = read_log(run_dir.events)
    keep_rows = keep_rows or b'"type":"rewind"' in data
    return RunState.from_records(parse_records(data, stats), keep_rows), stats


def _load(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            index = orjson.loads(handle.read())
    except (OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(index, dict) or index.get("version") != _INDEX_VERSION:
        return {}
    runs = index.get("runs")
    return runs if isinstance(runs, dict) else {}


def _save(path: str, runs: dict[str, Any]) -> None:
    temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with open(temporary, "wb") as handle:
            handle.write(orjson.dumps({"version": _INDEX_VERSION, "runs": runs}))
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass


def _entry(run_dir: RunDir, cached: object) -> tuple[dict[str, Any] | None, bool]:
    """The index entry for one run and whether it was rebuilt; None if the run has no readable log."""
    try:
        stat = os.stat(run_dir.events)
    except (FileNotFoundError, NotADirectoryError):
        return None, False
    key = [stat.st_size, stat.st_mtime_ns]
    if _usable(cached, key):
        return cached, False  # type: ignore[return-value]  # _usable checked it is a dict
    try:
        state, stats = replay(run_dir)
    except OSError:
        return None, False
    return {"key": key, "digest": digest(state, stats)}, True


_DIGEST_FIELDS = frozenset(digest(RunState(), ReadStats()))


def _usable(entry: object, key: list[int]) -> bool:
    """A cached entry for this exact log, with every field a digest has (an old or damaged one is not)."""
    if not isinstance(entry, dict) or entry.get("key") != key:
        return False
    found = entry.get("digest")
    return isinstance(found, dict) and found.keys() >= _DIGEST_FIELDS and isinstance(found["meta"], dict)


def run_digest(run_dir: RunDir) -> dict[str, Any] | None:
    """One run's digest, from the project index when fresh (the index is updated otherwise)."""
    index_path = os.path.join(run_dir.root, run_dir.project, INDEX_NAME)
    cached = _load(index_path)
    entry, rebuilt = _entry(run_dir, cached.get(run_dir.run_id))
    if entry is None:
        return None
    if rebuilt:
        cached[run_dir.run_id] = entry
        _save(index_path, cached)
    return entry["digest"]  # type: ignore[no-any-return]


def project_digests(root: str, project: str) -> dict[str, dict[str, Any]]:
    """Run id -> digest for every run of a project, from the index where it is still fresh."""
    folder = os.path.join(root, project)
    index_path = os.path.join(folder, INDEX_NAME)
    cached = _load(index_path)
    fresh: dict[str, Any] = {}
    changed = False
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return {}
    for name in names:
        entry, rebuilt = _entry(RunDir(root, project, name), cached.get(name))
        if entry is not None:
            fresh[name] = entry
            changed = changed or rebuilt
    if changed or len(fresh) != len(cached):
        _save(index_path, fresh)
    return {name: entry["digest"] for name, entry in fresh.items()}

"""The ``tracker`` subcommands about artifacts: list, rm, gc and lineage."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tracker_core._errors import SettingsError
from tracker_core.api import Api, StoredArtifact, StoredRun
from tracker_core.cli._format import WIDTH, clip, emit_json, table, value_text


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def artifacts(api: Api, args: argparse.Namespace) -> int:
    from tracker_core.artifacts import ArtifactStore

    if args.action == "rm":
        if not args.ref:
            raise SettingsError("artifacts rm", "needs NAME:vN", "e.g. tracker artifacts rm model:v3")
        ArtifactStore(api.root).delete(args.ref, force=args.force)
        print(f"deleted {args.ref}; run `tracker gc` to free the space of files no version uses")
        return 0
    versions = api.artifacts(args.ref.split(":")[0] if args.ref else None)
    if args.json:
        emit_json([_describe(v) for v in versions])
        return 0 if versions else 1
    if not versions:
        print("tracker: no artifacts", file=sys.stderr)
        return 1
    rows = [[v.ref, v.type, _size(v.size), ",".join(v.aliases), v.digest[:12], value_text(_when(v))]
            for v in versions]
    print(table(["artifact", "type", "size", "aliases", "digest", "created"], rows))
    return 0


def _when(version: StoredArtifact) -> Any:
    import datetime

    return datetime.datetime.fromtimestamp(version.created_at, tz=datetime.UTC)


def _describe(version: StoredArtifact) -> dict[str, Any]:
    return {"ref": version.ref, "name": version.name, "type": version.type, "version": version.version,
            "digest": version.digest, "aliases": list(version.aliases), "size": version.size,
            "created_at": version.created_at, "metadata": version.metadata}


def gc(api: Api, args: argparse.Namespace) -> int:
    from tracker_core.artifacts import ArtifactStore

    removed, freed = ArtifactStore(api.root).gc()
    print(f"removed {removed} unreferenced files, freed {_size(freed)}")
    return 0


def lineage(api: Api, args: argparse.Namespace) -> int:
    """Print the graph upstream (who made it, from what) and downstream (who used it, making what)."""
    start = api.artifact(args.ref)
    lines: list[str] = [f"{start.ref}  ({start.type}, digest {start.digest[:12]})"]
    _upstream(start, lines, "  ", set(), args.depth)
    _downstream(start, lines, "  ", set(), args.depth)
    print("\n".join(clip(line, WIDTH) for line in lines))
    return 0


def _run_text(run: StoredRun) -> str:
    return f"{run.path} {run.name!r} ({run.status})"


def _upstream(artifact: StoredArtifact, lines: list[str], indent: str, seen: set[str], depth: int) -> None:
    producer = artifact.logged_by()
    if producer is None or depth <= 0:
        return
    lines.append(f"{indent}made by  {_run_text(producer)}")
    if producer.path in seen:
        return
    seen.add(producer.path)
    for used in producer.used_artifacts():
        lines.append(f"{indent}  from  {used.ref}")
        _upstream(used, lines, indent + "    ", seen, depth - 1)


def _downstream(artifact: StoredArtifact, lines: list[str], indent: str, seen: set[str], depth: int) -> None:
    if depth <= 0:
        return
    for consumer in artifact.used_by():
        lines.append(f"{indent}used by  {_run_text(consumer)}")
        if consumer.path in seen:
            continue
        seen.add(consumer.path)
        for made in consumer.logged_artifacts():
            lines.append(f"{indent}  made  {made.ref}")
            _downstream(made, lines, indent + "    ", seen, depth - 1)

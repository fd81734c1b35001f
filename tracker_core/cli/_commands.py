"""The ``tracker`` subcommands. Each takes the Api and parsed arguments and returns an exit code."""

from __future__ import annotations

import argparse
import csv
import datetime
import difflib
import os
import re
import sys
from typing import Any

import orjson

from tracker_core._best import config_differences, find_best
from tracker_core._errors import RunNotFoundError, SettingsError, TrackerError
from tracker_core.api import Api, StoredRun
from tracker_core.cli._format import (
    WIDTH,
    clip,
    duration_text,
    emit_json,
    flatten,
    json_default,
    pairs,
    table,
    value_text,
)


def _line(text: str) -> str:
    return clip(text, WIDTH)


def _since(text: str) -> float:
    """A timestamp from ``2026-11-01`` (local time) or an age like ``7d``, ``12h``, ``30m``."""
    age = re.fullmatch(r"(\d+(?:\.\d+)?)([smhdw])", text.strip())
    if age:
        seconds = float(age.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[age.group(2)]
        return datetime.datetime.now().timestamp() - seconds
    try:
        return datetime.datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise SettingsError(f"--since {text!r}", "not a date or an age", "e.g. 2026-11-01, 7d or 12h") from None


def _filters(args: argparse.Namespace) -> list[str]:
    """The selection options as filter expressions (which the local store and the server both take)."""
    filters = list(args.filter)
    if args.group:
        filters.append(f"group={args.group}")
    filters += [f"tags={tag}" for tag in args.tag]
    if args.status:
        filters.append(f"status={args.status}")
    if args.since:
        filters.append(f"created_at>={_since(args.since)!r}")
    return filters


def _remote(api: Api) -> bool:
    return getattr(api, "client", None) is not None


def _selected(api: Api, args: argparse.Namespace, order: str | None = None) -> list[StoredRun]:
    filters = _filters(args)
    if args.project and not _remote(api) and args.project not in api.projects():
        close = difflib.get_close_matches(args.project, api.projects(), n=3)
        raise RunNotFoundError(f"no project {args.project!r} in {api.root}",
                               f"did you mean {', '.join(close)}?" if close else
                               "known projects: " + (", ".join(api.projects()) or "none yet"))
    return list(api.runs(args.project, filters, order, per_page=500))


def _metric_names(runs: list[StoredRun]) -> list[str]:
    return sorted({key for run in runs for key in (*run.extremes, *run.summary)})


def _sweep_selection(api: Api, args: argparse.Namespace) -> tuple[list[StoredRun], str]:
    """``--sweep``: the sweep's trial runs that match the selection; fills in the metric and goal from its config.

    Raises:
        SettingsError: no metric given and the sweep's config names none.
    """
    from tracker_core._query import compile_filters

    path = args.sweep if "/" in args.sweep or not args.project else f"{args.project}/{args.sweep}"
    sweep = api.sweep(path)
    found = sweep.config.get("metric")
    metric: dict[str, Any] = found if isinstance(found, dict) else {}
    if args.metric is None:
        if not metric.get("name"):
            raise SettingsError("metric", f"none given and sweep {sweep.id}'s config names none",
                                f"tracker best METRIC --sweep {args.sweep}")
        args.metric = str(metric["name"])
        if args.goal is None:
            args.goal = "max" if metric.get("goal") == "maximize" else "min"
    elif args.goal is None and metric.get("name") == args.metric:
        args.goal = "max" if metric.get("goal") == "maximize" else "min"
    match = compile_filters(_filters(args))
    return [run for run in sweep.runs if match(run)], f" of sweep {sweep.path}"


def best(api: Api, args: argparse.Namespace) -> int:
    scope = ""
    if args.sweep:
        runs, scope = _sweep_selection(api, args)
    elif args.metric is None:
        raise SettingsError("metric", "none given", "tracker best METRIC (or --sweep SWEEP_ID: its metric)")
    else:
        runs = _selected(api, args)
    args.goal = args.goal or "min"
    if _remote(api) and not args.sweep:  # the server's indexed answer; the listed runs are for the config comparison
        if not args.project:
            raise SettingsError("--project", "the server finds the best run of one project", "pass -p ENTITY/PROJECT")
        found = api.best(args.project, args.metric, args.goal, _filters(args))
        if found is not None:
            found = found._replace(run=next((run for run in runs if run.id == found.run.id), found.run))
    else:
        found = find_best(runs, args.metric, args.goal)
    if found is None:
        if not runs:
            print("tracker: no runs match", file=sys.stderr)
            return 1
        if any(args.metric in run.summary for run in runs):
            print(f"tracker: every value of {args.metric!r} in the selected runs is NaN or not a number",
                  file=sys.stderr)
            return 1
        close = difflib.get_close_matches(args.metric, _metric_names(runs), n=4)
        raise TrackerError(f"no selected run logged {args.metric!r}\nHint: "
                           + (f"did you mean {', '.join(close)}?" if close else "see `tracker show RUN` for metrics"))
    winner = found.run
    others = [run for run in runs if run is not winner]
    differences = config_differences(winner, others, flatten)
    if args.json:
        emit_json({"id": winner.id, "project": winner.project, "name": winner.name, "metric": args.metric,
                   "goal": args.goal, "value": found.value, "step": found.step, "status": winner.status,
                   "ties": [run.path for run in found.ties], "runs_compared": len(runs), "sweep": args.sweep,
                   "config_differences": {k: {"best": v, "others": [[o, n] for o, n in rest]}
                                          for k, (v, rest) in differences.items()}})
        return 0
    at = f" at step {found.step}" if found.step is not None else " (from its summary)"
    print(f"Best {args.metric} ({args.goal}) over {len(runs)} runs{scope}: {value_text(found.value, 6)}{at}")
    print(_line(f"  run     {winner.path}  {winner.name!r}"))
    print(f"  status  {winner.status}   started {value_text(winner.created_at)}   "
          f"took {duration_text(winner.duration)}")
    if found.ties:
        print(f"  tied with {len(found.ties)}: " + clip(", ".join(r.path for r in found.ties), WIDTH - 14))
    if differences:
        print("  config that differs from the other runs:")
        rows = [[key, value_text(mine), ", ".join(f"{value_text(v)} ({n})" for v, n in rest)]
                for key, (mine, rest) in differences.items()]
        print("\n".join("  " + line for line in table(["key", "this run", "others (runs)"], rows, WIDTH - 2)
                        .splitlines()))
    elif others:
        print("  its config is the same as every other run's")
    return 0


def runs(api: Api, args: argparse.Namespace) -> int:
    selected = _selected(api, args, args.sort)
    if args.sort is None:
        selected.reverse()  # newest first
    selected = selected[: args.limit]
    columns = [c for c in args.columns.split(",") if c]
    from tracker_core._query import MISSING, lookup

    if args.json:
        emit_json([{"id": r.id, "project": r.project, "name": r.name, "status": r.status,
                    "created_at": r.created_at, "duration": r.duration, "tags": r.tags, "group": r.group,
                    **{c: (None if (v := lookup(r, c)) is MISSING else v) for c in columns}} for r in selected])
        return 0 if selected else 1
    if not selected:
        print("tracker: no runs match", file=sys.stderr)
        return 1
    headers = ["id", "name", "status", "started", "took", *[c.split(".", 1)[-1] for c in columns]]
    rows = [[r.id, r.name, r.status, value_text(r.created_at), duration_text(r.duration),
             *[value_text(None if (v := lookup(r, c)) is MISSING else v) for c in columns]] for r in selected]
    print(table(headers, rows))
    return 0


def _history_tail(run: StoredRun, count: int = 5) -> str:
    rows = run.history()[-count:]
    if not rows:
        return "  (no rows)"
    metrics = [k for k in dict.fromkeys(k for row in rows for k in row) if k not in ("_step", "_timestamp")]
    keys = ["_step", *metrics][:6]
    return "\n".join("  " + line for line in
                     table(keys, [[value_text(row.get(k)) for k in keys] for row in rows], WIDTH - 2).splitlines())


def _console_tail(run: StoredRun, count: int = 10) -> str | None:
    path = os.path.join(run.dir, "files", "output.log")
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - 8192))
            lines = handle.read().decode("utf-8", errors="replace").splitlines()[-count:]
    except OSError:
        return None
    return "\n".join("  " + clip(line, WIDTH - 2) for line in lines)


def _alert_lines(run: StoredRun) -> str | None:
    """One row per alert: time, level, step, title, and whether it was delivered (or why not)."""
    alerts = run.alerts()
    if not alerts:
        return None
    rows = [[value_text(datetime.datetime.fromtimestamp(a.time)), a.level, value_text(a.step), a.title,
             a.status + (f": {a.reason}" if a.reason else "")] for a in alerts]
    return "\n".join("  " + line for line in table(["time", "level", "step", "title", "delivery"], rows,
                                                    WIDTH - 2).splitlines())


def _provenance_lines(provenance: dict[str, Any]) -> dict[str, Any]:
    git = provenance.get("git") or {}
    return {
        "command": " ".join(provenance.get("command", [])[1:]) or None,
        "cwd": provenance.get("cwd"),
        "git": f"{git.get('commit', '')[:12]} on {git.get('branch')}" + (" (dirty)" if git.get("dirty") else "")
        if git else None,
        "python": (provenance.get("python") or {}).get("version"),
        "host": (provenance.get("host") or {}).get("hostname"),
        "gpu": ", ".join((provenance.get("gpu") or {}).get("names", [])) or None,
    }


def show(api: Api, args: argparse.Namespace) -> int:
    run = api.run(args.run)
    if args.json:
        emit_json({"id": run.id, "project": run.project, "name": run.name, "status": run.status,
                   "exit_code": run.exit_code, "signal": run.signal, "created_at": run.created_at,
                   "duration": run.duration, "tags": run.tags, "group": run.group, "notes": run.notes,
                   "config": run.config, "summary": run.summary, "traceback": run.traceback,
                   "provenance": run.provenance, "dir": run.dir, "rows": len(run.history()),
                   "alerts": [alert._asdict() for alert in run.alerts()]})
        return 0
    print(_line(f"{run.path}  {run.status}" + (f" (exit {run.exit_code})" if run.exit_code else "")
                + (f" by {run.signal}" if run.signal else "") + f"  {run.name!r}"))
    print(_line(f"  started {value_text(run.created_at)}, took {duration_text(run.duration)}"
                + (f", group {run.group}" if run.group else "")
                + (f", tags {', '.join(run.tags)}" if run.tags else "")))
    if run.notes:
        print(_line(f"  notes   {run.notes}"))
    print(_line(f"  files   {run.dir}"))
    print("config\n" + pairs(flatten(run.config)))
    print("summary\n" + pairs(run.summary))
    if run.traceback:
        print("traceback (last lines)\n" + "\n".join("  " + clip(line, WIDTH - 2)
                                                     for line in run.traceback.strip().splitlines()[-8:]))
    if run.provenance:
        print("provenance\n" + pairs({k: v for k, v in _provenance_lines(run.provenance).items() if v}))
    print("history (last rows)\n" + _history_tail(run))
    alerts = _alert_lines(run)
    if alerts:
        print("alerts\n" + alerts)
    console = _console_tail(run)
    if console:
        print("console (last lines)\n" + console)
    return 0


def _same(left: Any, right: Any) -> bool:
    """Equal, counting NaN as equal to NaN."""
    return bool(left == right) or (isinstance(left, float) and isinstance(right, float) and left != left
                                   and right != right)


def diff(api: Api, args: argparse.Namespace) -> int:
    a, b = api.run(args.run_a), api.run(args.run_b)
    sections = {
        "config": (flatten(a.config), flatten(b.config)),
        "summary": (a.summary, b.summary),
        "provenance": (_provenance_lines(a.provenance or {}), _provenance_lines(b.provenance or {})),
        "packages": ((a.provenance or {}).get("packages", {}), (b.provenance or {}).get("packages", {})),
    }
    if args.json:
        emit_json({name: {k: [left.get(k), right.get(k)] for k in sorted(set(left) | set(right))
                          if args.all or not _same(left.get(k), right.get(k))}
                   for name, (left, right) in sections.items()})
        return 0
    print(_line(f"  A = {a.path} ({a.status}) {a.name!r}"))
    print(_line(f"  B = {b.path} ({b.status}) {b.name!r}"))
    for name, (left, right) in sections.items():
        keys = sorted(set(left) | set(right))
        rows = [[("  " if _same(left.get(k), right.get(k)) else "* ") + k, value_text(left.get(k)),
                 value_text(right.get(k))] for k in keys if args.all or not _same(left.get(k), right.get(k))]
        print(f"{name}: " + (f"{len(rows)} differ" if not args.all else f"{len(keys)} keys, * = differs"))
        if rows:
            print("\n".join("  " + line for line in table(["key", "A", "B"], rows, WIDTH - 2).splitlines()))
    return 0


def export(api: Api, args: argparse.Namespace) -> int:
    if args.to:
        exporter = args.exporters.get(args.to)
        if exporter is None:
            raise SettingsError("--to", f"no exporter to {args.to!r}", f"one of {', '.join(sorted(args.exporters))}")
        return int(exporter(api, args))
    if not args.run:
        raise SettingsError("export", "which run?", "pass a run (tracker export RUN), or --to TRACKER -p PROJECT")
    run = api.run(args.run)
    rows = run.history()
    columns = list(dict.fromkeys(["_step", "_timestamp", *(k for row in rows for k in row)]))
    if args.format == "parquet":
        try:
            import pyarrow as pa  # type: ignore[import-not-found,import-untyped,unused-ignore]
            import pyarrow.parquet as pq  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError:
            raise TrackerError("--format parquet needs pyarrow\nHint: pip install pyarrow") from None
        if not args.output:
            raise SettingsError("--output", "parquet is binary and needs a file", "pass -o history.parquet")
        pq.write_table(pa.Table.from_pylist(rows), args.output)
        return 0
    out = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        if args.format == "jsonl":
            for row in rows:
                out.write(_json_line(row))
        else:
            writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _json_line(row: dict[str, Any]) -> str:
    """One JSON line; NaN and ±Inf as the NaN/Infinity tokens that pandas and Python's json read."""
    try:
        line = orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE, default=json_default)
    except TypeError:  # an integer beyond 64 bits
        line = b"null"
    if b"null" not in line:
        return line.decode()
    import json

    return json.dumps(row, allow_nan=True, default=json_default) + "\n"


def tag(api: Api, args: argparse.Namespace) -> int:
    run = api.run(args.run)
    tags = list(run.tags)
    for change in args.changes:
        if change[:1] not in "+-" or len(change) < 2:
            raise SettingsError(f"tag change {change!r}", "must start with + or -", "e.g. +phase-2 -phase-1")
        name = change[1:]
        if change[0] == "+" and name not in tags:
            tags.append(name)
        elif change[0] == "-" and name in tags:
            tags.remove(name)
    run.update(tags=tags)
    print(f"{run.path}: tags {', '.join(tags) or '(none)'}")
    return 0


def note(api: Api, args: argparse.Namespace) -> int:
    run = api.run(args.run)
    run.update(notes=args.text)
    print(f"{run.path}: notes set")
    return 0


def remove(api: Api, args: argparse.Namespace) -> int:
    targets = [api.run(path) for path in args.runs]
    if not args.yes:
        listing = ", ".join(f"{r.path} ({r.name!r}, {r.status})" for r in targets)
        if not sys.stdin.isatty():
            raise SettingsError("rm", f"would delete {listing} without asking", "pass --yes to confirm")
        answer = input(f"Delete {listing}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    for run in targets:
        run.delete()
        print(f"deleted {run.path}")
    return 0


def plot(api: Api, args: argparse.Namespace) -> int:
    try:
        import matplotlib  # type: ignore[import-not-found,import-untyped,unused-ignore]

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        raise TrackerError("plot needs matplotlib\nHint: pip install matplotlib (or the 'plot' extra)") from None
    selected = [api.run(path) for path in args.runs] if args.runs else _selected(api, args)
    figure, axes = plt.subplots(figsize=(9, 5))
    drawn = 0
    for run in selected:
        rows = run.history(keys=[args.metric], x=args.x)
        points = [(row[args.x], row[args.metric]) for row in rows
                  if type(row.get(args.metric)) in (int, float)]  # None, text and media are not plotted
        if points:
            axes.plot(*zip(*points, strict=True), label=f"{run.name} ({run.id[:6]})")
            drawn += 1
    if not drawn:
        plt.close(figure)
        close = difflib.get_close_matches(args.metric, _metric_names(selected), n=4)
        raise TrackerError(f"no selected run logged {args.metric!r}"
                           + (f"\nHint: did you mean {', '.join(close)}?" if close else ""))
    axes.set_xlabel(args.x)
    axes.set_ylabel(args.metric)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(args.output, dpi=100)
    plt.close(figure)
    print(f"wrote {args.output} ({drawn} runs)")
    return 0

"""The ``tracker`` command: answer questions about the runs in a local store or on the team server.

Commands of other installed packages (``tracker server``) are found through the
``tracker.commands`` entry-point group, looked up only when the command is not one of ours.

Exit codes: 0 done; 1 nothing matched (no runs selected, or no numeric value of the metric
in them); 2 a usage error, an unknown run, field or metric, or a missing optional package; 3 an import or export
that moved what it could but could not read some runs or files (its report names them). Errors are one line, with a
``Hint:`` where there is a fix.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from tracker_core._errors import TrackerError

__all__ = ["main", "main_exit"]


def _parser() -> argparse.ArgumentParser:
    from tracker_core.cli import _artifact_commands as a
    from tracker_core.cli import _commands as c
    from tracker_core.cli import _mlflow_commands as m
    from tracker_core.cli import _report_commands as r
    from tracker_core.cli import _server_commands as s
    from tracker_core.cli import _sweep_commands as w
    from tracker_core.cli import _wandb_commands as wb

    parser = argparse.ArgumentParser(prog="tracker", description="Query the runs in a local tracker store or on "
                                     "the team server.")
    parser.add_argument("--dir", help="store root (default: TRACKER_DIR, else ./tracker_runs)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: object, help_text: str, json: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        if json:
            p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    def selection(p: argparse.ArgumentParser) -> None:
        p.add_argument("--project", "-p", help="only this project (default: all)")
        p.add_argument("--group", help="only runs of this group")
        p.add_argument("--tag", action="append", default=[], help="only runs with this tag (repeatable)")
        p.add_argument("--status", help="only runs in this state, e.g. finished")
        p.add_argument("--since", help="only runs started since: a date (2026-11-01) or an age (7d, 12h)")
        p.add_argument("--filter", "-f", action="append", default=[], metavar="EXPR",
                       help="e.g. config.lr<1e-3, summary.val/acc>=0.9, name~^bert (repeatable)")

    def where(p: argparse.ArgumentParser) -> None:
        p.add_argument("--server", help="ask this team server (default: the configured one, if any)")
        p.add_argument("--local", action="store_true", help="ask the local store even when a server is configured "
                       "(so does --dir)")

    p = command("best", c.best, "the best run on a metric, and how its config differs from the others")
    p.add_argument("metric", nargs="?", help="the metric (with --sweep: default the sweep's)")
    p.add_argument("--goal", choices=["min", "max"], help="default: min (with --sweep: the sweep's goal)")
    p.add_argument("--sweep", metavar="[ENTITY/PROJECT/]SWEEP_ID", help="only the trial runs of this sweep")
    selection(p)
    where(p)

    p = command("runs", c.runs, "a table of runs")
    selection(p)
    where(p)
    p.add_argument("--sort", help="field to sort by, '-' for descending: -summary.val/acc, config.lr, created_at")
    p.add_argument("--limit", "-n", type=int, default=50)
    p.add_argument("--columns", "-c", default="", help="extra columns: config.lr,summary.val/loss,...")

    p = command("show", c.show, "everything about one run")
    p.add_argument("run", help="project/id, id, or a unique id prefix")

    p = command("diff", c.diff, "two runs side by side: config, provenance and summary")
    p.add_argument("run_a")
    p.add_argument("run_b")
    p.add_argument("--all", action="store_true", help="also the keys that are the same")

    p = command("export", c.export, "a run's full history as csv, jsonl or parquet; or, with --to, a project's runs "
                "into another tracker", json=False)
    p.add_argument("run", nargs="?", help="the run (with --to: only this run of the project)")
    p.add_argument("--format", choices=["csv", "jsonl", "parquet"], default="csv")
    p.add_argument("--output", "-o", help="file to write (default: standard output; required for parquet)")
    p.add_argument("--to", metavar="TRACKER", help="export the project's runs to another tracker: mlflow, wandb")
    p.add_argument("--project", "-p", help="with --to: the project to export")
    p.add_argument("--quiet", "-q", action="store_true", help="with --to: no progress lines")
    p.add_argument("--json", action="store_true", help="with --to: the fidelity report as JSON")
    # ----- export --to mlflow
    p.add_argument("--tracking-uri", help="with --to mlflow: the MLflow store (http://host:5000, sqlite:///x.db)")
    p.add_argument("--experiment", help="with --to mlflow: the experiment to write into (default: the project)")
    p.set_defaults(exporters={"mlflow": m.export_mlflow})
    # ----- end of export --to mlflow
    # ----- export --to wandb
    p.add_argument("--out", help="with --to wandb: the folder to write W&B offline run folders into")
    p.set_defaults(exporters={**p.get_default("exporters"), "wandb": wb.export_wandb})
    # ----- end of export --to wandb

    p = command("import", None, "bring runs from another tracker into the local store, with a fidelity report",
                json=False)
    importers = p.add_subparsers(dest="source", required=True, metavar="SOURCE")

    def importer(name: str, handler: object, help_text: str) -> argparse.ArgumentParser:
        q = importers.add_parser(name, help=help_text, description=help_text)
        q.set_defaults(handler=handler)
        q.add_argument("--project", "-p", help="the local project to import into")
        q.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
        q.add_argument("--json", action="store_true", help="the fidelity report as JSON")
        return q

    # ----- import mlflow, import tensorboard
    q = importer("mlflow", m.import_mlflow, "the runs of an MLflow experiment, read through MlflowClient "
                 "(needs tracker[mlflow])")
    q.add_argument("--tracking-uri", required=True, help="the MLflow store: http://host:5000, sqlite:///mlflow.db, "
                   "an mlruns folder")
    q.add_argument("--experiment", required=True, help="the experiment's name (the project's, unless -p)")
    q.add_argument("--refresh", action="store_true", help="read again the runs that look unchanged since the "
                   "last import")
    q = importer("tensorboard", m.import_tensorboard, "TensorBoard event files: one run per folder of event "
                 "files (needs tracker[tensorboard])")
    q.add_argument("path", help="a folder of event files or of run folders, e.g. ./lightning_logs")
    # ----- end of import mlflow, import tensorboard
    # ----- import wandb
    q = importer("wandb", wb.import_wandb, "W&B run folders as they lie on disk, offline or synced: their "
                 "run-*.wandb transaction logs and files/ (needs tracker[wandb])")
    q.add_argument("path", help="a wandb folder (./wandb), one run folder, or a run-*.wandb file; with --api: "
                   "ENTITY/PROJECT on a W&B server")
    q.add_argument("--api", action="store_true", help="read the project's runs through wandb's public API "
                   "(the key: WANDB_API_KEY or `wandb login`)")
    q.add_argument("--base-url", help="with --api: the W&B server (default: WANDB_BASE_URL or wandb's settings)")
    q.add_argument("--timeout", type=int, help="with --api: seconds to wait for each answer of the server")
    # ----- end of import wandb

    p = command("tag", c.tag, "add (+name) or remove (-name) tags", json=False)
    p.add_argument("run")
    p.add_argument("changes", nargs="*", metavar="+TAG|-TAG")

    p = command("note", c.note, "set a run's notes", json=False)
    p.add_argument("run")
    p.add_argument("text")

    p = command("rm", c.remove, "delete runs (asks first unless --yes)", json=False)
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.add_argument("--yes", "-y", action="store_true")

    p = command("plot", c.plot, "a metric of several runs on one chart, as a PNG", json=False)
    p.add_argument("metric")
    selection(p)
    p.add_argument("--runs", nargs="+", default=[], metavar="RUN", help="these runs (default: all selected)")
    p.add_argument("--x", default="_step", help="x-axis column (default: _step)")
    p.add_argument("--output", "-o", default="plot.png")
    p = command("artifacts", a.artifacts, "list artifact versions, or delete one (rm NAME:vN)")
    p.add_argument("action", nargs="?", choices=["list", "rm"], default="list")
    p.add_argument("ref", nargs="?", help="NAME to list its versions; NAME:vN to delete")
    p.add_argument("--force", action="store_true", help="rm even while an alias points at the version")

    p = command("lineage", a.lineage, "an artifact's graph: the runs and artifacts upstream and downstream",
                json=False)
    p.add_argument("ref", metavar="NAME:vN")
    p.add_argument("--depth", type=int, default=5)

    command("gc", a.gc, "delete stored artifact files that no version uses, and report the space freed", json=False)

    p = command("login", s.login, "check an API key with a team server and store both for this user", json=False)
    p.add_argument("url", help="the server, e.g. http://tracker.internal:8750")
    p.set_defaults(local_only=True)

    p = command("sync", s.sync, "upload the runs and reports of a local store that the team server lacks",
                json=False)
    p.add_argument("path", nargs="?", metavar="DIR", help="store root (default: --dir, TRACKER_DIR, ./tracker_runs)")
    p.add_argument("--server", help="the server (default: TRACKER_SERVER, else the one `tracker login` stored)")
    p.add_argument("--entity", help="team for runs that name none (default: the key's only team)")
    p.set_defaults(local_only=True)

    p = command("sweep", w.sweep, "create a sweep from a W&B sweep config (YAML), or control one: "
                "status|pause|resume|stop|cancel SWEEP_ID")
    p.add_argument("target", metavar="FILE|ACTION", help="the sweep config file, or status, pause, resume, "
                   "stop (no new trials; running ones finish), cancel (running trials are stopped too)")
    p.add_argument("sweep_id", nargs="?", metavar="SWEEP_ID", help="[ENTITY/PROJECT/]SWEEP_ID, after an ACTION")
    p.add_argument("--project", "-p", help="the sweep's project (default: the config's, else uncategorized)")
    p.add_argument("--entity", "-e", help="the sweep's entity (default: the config's)")
    p.set_defaults(local_only=True)

    p = command("agent", w.agent, "run a sweep's trials on this machine: the config's command, one at a time",
                json=False)
    p.add_argument("sweep_id", metavar="[ENTITY/PROJECT/]SWEEP_ID")
    p.add_argument("--count", type=int, help="stop after this many trials (default: until the sweep has none)")
    p.add_argument("--retry-crashed", action="store_true", help="run again the grid points whose trial crashed")
    p.set_defaults(local_only=True)

    p = command("report", r.report, "reports as Markdown files: push FILE.md, pull ID, list, model-card NAME:vN "
                "(the team server's when one is configured, else the local store's)", json=False)
    r.add_report_commands(p)
    p.set_defaults(local_only=True)

    p = command("sweeps", w.sweeps, "the sweeps of the local store, or of the team server when one is configured")
    p.add_argument("--project", "-p", help="only this project's sweeps")
    p.set_defaults(local_only=True)

    from tracker_core.cli import _report_export_commands as rx

    rx.register(sub)  # tracker report export
    return parser


def _api(args: argparse.Namespace) -> object:
    """The store to ask: the team server for best/runs when one is configured (unless --local or --dir),
    else the local store."""
    from tracker_core.api import Api

    if getattr(args, "local_only", False):
        return None
    if hasattr(args, "local") and not args.local and (args.server or not args.dir):  # --dir names a local store
        from tracker_core._settings import resolve_settings

        server = args.server or resolve_settings({}).server
        if server:
            return Api(server=server)
    return Api(args.dir)


def _join_sort_value(argv: Sequence[str]) -> list[str]:
    """``--sort -summary.x`` as ``--sort=-summary.x``: argparse would take the value for an option."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] == "--sort" and arg.startswith("-"):
            joined[-1] = f"--sort={arg}"
        else:
            joined.append(arg)
    return joined


def _known_commands(parser: argparse.ArgumentParser) -> set[str]:
    return {name for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for name in action.choices}


def _plugin_command(name: str) -> Callable[[list[str]], int] | None:
    """The ``tracker.commands`` entry point called ``name`` (e.g. ``server`` from the server extra), if installed."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="tracker.commands"):
        if entry.name == name:
            command: Callable[[list[str]], int] = entry.load()
            return command
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in _known_commands(parser):
        plugin = _plugin_command(argv[0])
        if plugin is not None:
            return int(plugin(argv[1:]))
        if argv[0] == "server":
            print("tracker: error: `tracker server` needs the server extra\n  Hint: pip install \"tracker[server]\"",
                  file=sys.stderr)
            return 2
    args, extra = parser.parse_known_args(_join_sort_value(argv))
    if args.command == "tag":
        args.changes += extra  # "-phase-1" looks like an option to argparse
        if not args.changes:
            parser.error("tag needs at least one +TAG or -TAG")
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.handler(_api(args), args))
    except TrackerError as error:
        message = str(error).replace("\n", "\n  ")
        print(f"tracker: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `tracker runs | head`
        return 0


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())


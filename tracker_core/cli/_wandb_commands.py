"""``tracker import wandb`` and ``tracker export --to wandb``: runs between W&B's folders and the local store.

Progress goes to standard error, the fidelity report to standard output (``--json``: as JSON).
Exit codes: 0 everything was read; 1 something could not be read (the report names it), the rest moved.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import orjson

from tracker_core.migrate._fidelity import Fidelity

__all__ = ["add_import_source", "export_wandb_command", "import_wandb_command"]


def _root(args: argparse.Namespace) -> str:
    from tracker_core._settings import resolve_settings

    return os.path.abspath(os.path.expanduser(resolve_settings({"dir": args.dir} if args.dir else {}).dir))


def _report(fidelity: Fidelity, as_json: bool) -> int:
    if as_json:
        sys.stdout.write(orjson.dumps(fidelity.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
                         .decode())
    else:
        print(fidelity.render())
    return 1 if fidelity.errors else 0


def add_import_source(sources: Any) -> None:
    """The ``wandb`` source of ``tracker import``."""
    p = sources.add_parser("wandb", help="W&B run folders as they lie on disk (offline or synced: run-*.wandb)",
                           description="Import W&B run folders (offline-run-*/run-*, with run-<id>.wandb and "
                           "files/) into the local store, keeping W&B's run ids, steps and times. Importing "
                           "again updates changed runs and skips unchanged ones.")
    p.add_argument("path", help="a wandb folder (./wandb), one run folder, or a run-*.wandb file")
    p.add_argument("--project", "-p", help="put the runs in this project (default: each run's W&B project)")
    p.add_argument("--json", action="store_true", help="the fidelity report as JSON")
    p.set_defaults(handler=import_wandb_command, local_only=True)


def import_wandb_command(_: object, args: argparse.Namespace) -> int:
    from tracker_core.migrate import import_wandb

    return _report(import_wandb(args.path, _root(args), project=args.project), args.json)


def export_wandb_command(_: object, args: argparse.Namespace) -> int:
    """``tracker export --to wandb -p PROJECT --out DIR``."""
    from tracker_core._errors import SettingsError
    from tracker_core.migrate import export_wandb

    if not args.project or not args.out:
        raise SettingsError("--to wandb", "needs the project and the output folder",
                            "tracker export --to wandb -p PROJECT --out ./wandb_export")
    fidelity = export_wandb(_root(args), args.project, os.path.abspath(args.out), run_ids=args.runs)
    print(f"W&B offline runs written under {os.path.join(os.path.abspath(args.out), 'wandb')}; upload them with "
          f"`wandb sync {os.path.join(os.path.abspath(args.out), 'wandb')}/offline-run-*`", file=sys.stderr)
    return _report(fidelity, False)

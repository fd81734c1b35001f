"""``tracker import wandb`` and ``tracker export --to wandb``: runs between W&B's folders and the local store.

Each prints progress on stderr and the fidelity report on stdout (``--json``: the report as JSON).
Exit code 0, or 3 when something could not be read (it is named; the rest moved).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from tracker_core._errors import SettingsError
from tracker_core.api import Api
from tracker_core.cli._mlflow_commands import _report

__all__ = ["export_wandb", "import_wandb"]


def _quiet(_: str) -> None:
    pass


def _progress(args: argparse.Namespace) -> Callable[[str], None] | None:
    """No progress lines with ``--quiet``; else the importer's own (to stderr)."""
    return _quiet if getattr(args, "quiet", False) else None


def import_wandb(api: Api, args: argparse.Namespace) -> int:
    """``tracker import wandb PATH [-p PROJECT]``; ``tracker import wandb ENTITY/PROJECT --api [--base-url URL]``."""
    if getattr(args, "api", False):
        from tracker_core.migrate import import_wandb_api

        fidelity = import_wandb_api(args.path, api.root, project=args.project, base_url=args.base_url,
                                    timeout=args.timeout, progress=_progress(args))
        return _report(fidelity, args)
    from tracker_core.migrate import import_wandb as run_import

    fidelity = run_import(args.path, api.root, project=args.project, progress=_progress(args))
    return _report(fidelity, args)


def export_wandb(api: Api, args: argparse.Namespace) -> int:
    """``tracker export --to wandb -p PROJECT --out DIR [RUN]``."""
    from tracker_core.migrate import export_wandb as run_export

    if not args.project or not args.out:
        raise SettingsError("--to wandb", "needs the project and the output folder",
                            "tracker export --to wandb -p PROJECT --out ./wandb_export")
    out = os.path.abspath(args.out)
    fidelity = run_export(api.root, args.project, out, run_ids=[args.run] if args.run else None,
                          progress=_progress(args))
    if not getattr(args, "quiet", False):
        print(f"W&B offline runs written under {out}/wandb; upload them with `wandb sync {out}/wandb/offline-run-*`",
              file=sys.stderr)
    return _report(fidelity, args)

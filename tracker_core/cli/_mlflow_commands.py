"""``tracker import mlflow``, ``tracker import tensorboard`` and ``tracker export --to mlflow``.

Each prints a progress line per run on stderr and the fidelity report on stdout (``--json``: the report
as JSON). Exit code 0, or 3 when some runs or files could not be read (they are named; the rest moved).
"""

from __future__ import annotations

import argparse

from tracker_core._errors import SettingsError
from tracker_core.api import Api
from tracker_core.cli._format import emit_json
from tracker_core.migrate import Fidelity


def _report(fidelity: Fidelity, args: argparse.Namespace) -> int:
    if getattr(args, "json", False):
        emit_json(fidelity.to_dict())
    else:
        print(fidelity.render())
    return 3 if fidelity.errors else 0


def import_mlflow(api: Api, args: argparse.Namespace) -> int:
    from tracker_core.migrate import import_mlflow as run_import

    fidelity = run_import(args.tracking_uri, args.experiment, api.root, project=args.project, refresh=args.refresh,
                          progress=not args.quiet)
    return _report(fidelity, args)


def import_tensorboard(api: Api, args: argparse.Namespace) -> int:
    from tracker_core.migrate import import_tensorboard as run_import

    fidelity = run_import(args.path, api.root, project=args.project, progress=not args.quiet)
    return _report(fidelity, args)


def export_mlflow(api: Api, args: argparse.Namespace) -> int:
    from tracker_core.migrate import export_mlflow as run_export

    if not args.project:
        raise SettingsError("--project", "export --to mlflow needs the project to export", "pass -p PROJECT")
    if not args.tracking_uri:
        raise SettingsError("--tracking-uri", "export --to mlflow needs the MLflow store",
                            "pass --tracking-uri http://host:5000 or sqlite:///mlflow.db")
    fidelity = run_export(api, args.project, args.tracking_uri, experiment=args.experiment,
                          runs=[args.run] if args.run else None, progress=not args.quiet)
    return _report(fidelity, args)

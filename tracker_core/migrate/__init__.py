"""Moving runs between this tracker and W&B, MLflow and TensorBoard, with a fidelity report of what moved.

Each importer and exporter returns a :class:`Fidelity`: counts of what moved, by kind, and of
what the other side could not represent, by kind and reason, so nothing is dropped silently.
"""

from __future__ import annotations

from tracker_core.migrate._fidelity import Fidelity
from tracker_core.migrate._wandb_export import export_wandb
from tracker_core.migrate._wandb_import import find_wandb_runs, import_wandb
from tracker_core.migrate._wandb_log import read_records as read_wandb_records
from tracker_core.migrate._wandb_proto import WandbMissing

__all__ = ["Fidelity", "WandbMissing", "export_wandb", "find_wandb_runs", "import_wandb", "read_wandb_records"]

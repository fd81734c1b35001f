"""Moving runs between this tracker and W&B, MLflow and TensorBoard, with a fidelity report of what moved.

Each importer and exporter returns a :class:`Fidelity`: counts of what moved, by kind, and of
what the other side could not represent, by kind and reason, so nothing is dropped silently.
"""

from __future__ import annotations

from tracker_core.migrate._fidelity import Fidelity
from tracker_core.migrate._mlflow_export import export_mlflow, flatten_config, mlflow_key
from tracker_core.migrate._mlflow_import import import_mlflow, parse_params
from tracker_core.migrate._tensorboard_import import import_tensorboard
from tracker_core.migrate._wandb_api_import import import_wandb_api
from tracker_core.migrate._wandb_export import export_wandb
from tracker_core.migrate._wandb_import import find_wandb_runs, import_wandb
from tracker_core.migrate._wandb_log import read_records as read_wandb_records
from tracker_core.migrate._wandb_proto import WandbMissing

__all__ = ["Fidelity", "WandbMissing", "export_mlflow", "export_wandb", "find_wandb_runs", "flatten_config",
           "import_mlflow", "import_tensorboard", "import_wandb", "import_wandb_api", "mlflow_key", "parse_params",
           "read_wandb_records"]

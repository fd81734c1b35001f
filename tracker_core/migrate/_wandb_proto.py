"""The wandb package, loaded on first use: its protobuf ``Record`` classes and its offline writer."""

from __future__ import annotations

from types import ModuleType

from tracker_core._errors import TrackerError

__all__ = ["WandbMissing", "wandb_records"]


class WandbMissing(TrackerError):
    """The wandb package (the ``tracker[wandb]`` extra) is not installed."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} needs the wandb package (its protobuf Record classes)\n"
                         "Hint: pip install \"tracker[wandb]\"")


def wandb_records(what: str) -> ModuleType:
    """``wandb.proto.wandb_internal_pb2``.

    Raises:
        WandbMissing: wandb is not installed.
    """
    try:
        from wandb.proto import wandb_internal_pb2
    except ImportError:
        raise WandbMissing(what) from None
    return wandb_internal_pb2

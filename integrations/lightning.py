"""PyTorch Lightning: ``Trainer(logger=TrackerLogger(project="p"))``.

Importing this module never imports Lightning; ``TrackerLogger`` does, on first access, and
raises an ``ImportError`` naming the extra to install when Lightning is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from integrations._support import import_framework

if TYPE_CHECKING:
    from integrations._lightning import TrackerLogger

__all__ = ["TrackerLogger"]


def __getattr__(name: str) -> Any:
    """``TrackerLogger``, defined when first asked for (Lightning is imported then).

    Raises:
        ImportError: Lightning is not installed; the message names ``pip install 'tracker[lightning]'``.
    """
    if name == "TrackerLogger":
        import_framework("lightning.pytorch", "lightning")
        from integrations._lightning import TrackerLogger

        return TrackerLogger
    raise AttributeError(f"module 'integrations.lightning' has no attribute {name!r}")

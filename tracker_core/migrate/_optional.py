"""Loading the optional packages the importers and exporters read and write with."""

from __future__ import annotations

import importlib
from types import ModuleType

from tracker_core._errors import TrackerError

__all__ = ["require"]


def require(module: str, extra: str) -> ModuleType:
    """``import module``, or a TrackerError naming the extra that installs it.

    Raises:
        TrackerError: the package is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise TrackerError(f"{module} is not installed ({exc})\nHint: pip install \"tracker[{extra}]\"") from None

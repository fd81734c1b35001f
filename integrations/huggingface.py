"""Hugging Face Transformers adapter: ``TrainingArguments(report_to="tracker")`` or ``callbacks=[TrackerCallback()]``.

    from transformers import Trainer, TrainingArguments

    Trainer(model, TrainingArguments("out", report_to="tracker"), train_dataset=...).train()

``report_to="tracker"`` resolves through the start-up hook the package installs (see
``_hf_registration``); importing this module registers it too, for an interpreter started without
the hook (``TRACKER_HF_AUTOREGISTER=0``, ``python -S``, or the sources on ``PYTHONPATH`` uninstalled).
Importing this module does not import transformers; ``TrackerCallback`` does, on first access,
and raises an ``ImportError`` naming the extra to install when it is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from integrations import _hf_registration
from integrations._support import import_framework

if TYPE_CHECKING:
    from integrations._hf_callback import TrackerCallback

__all__ = ["TrackerCallback"]

_hf_registration.arm()  # report_to="tracker" resolves, even without the start-up hook


def __getattr__(name: str) -> Any:
    """``TrackerCallback``, defined on first access (it subclasses transformers' ``TrainerCallback``).

    Raises:
        ImportError: transformers (or torch) is missing: ``pip install 'tracker[huggingface]'``.
    """
    if name == "TrackerCallback":
        import_framework("transformers", "huggingface")
        from integrations._hf_callback import TrackerCallback

        return TrackerCallback
    raise AttributeError(f"module 'integrations.huggingface' has no attribute {name!r}")

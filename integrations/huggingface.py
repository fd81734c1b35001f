"""Hugging Face Transformers adapter: ``TrainingArguments(report_to="tracker")`` or ``callbacks=[TrackerCallback()]``.

    from transformers import Trainer, TrainingArguments
    import tracker_core  # makes report_to="tracker" resolve (so does importing this module)

    Trainer(model, TrainingArguments("out", report_to="tracker"), train_dataset=...).train()

Importing this module does not import transformers; ``TrackerCallback`` does, on first access,
and raises an ``ImportError`` naming the extra to install when it is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from integrations._support import import_framework  # imports tracker_core, which registers report_to="tracker"

if TYPE_CHECKING:
    from integrations._hf_callback import TrackerCallback

__all__ = ["TrackerCallback"]


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

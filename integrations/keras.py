"""Keras 3 adapter: ``model.fit(..., callbacks=[TrackerCallback()])`` on any backend.

    from integrations.keras import TrackerCallback
    model.fit(x, y, validation_split=0.1, epochs=5, callbacks=[TrackerCallback(project="p")])

Importing this module does not import Keras; ``TrackerCallback`` does, on first access. Keras 3 picks
its backend when it is first imported (``KERAS_BACKEND``, else ``~/.keras/keras.json``, else
TensorFlow); this module never sets it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from integrations._support import import_framework

if TYPE_CHECKING:
    from integrations._keras_callback import TrackerCallback

__all__ = ["TrackerCallback"]


def _backend_hint() -> str:
    """What to do when Keras is installed but cannot be imported (almost always: its backend is missing)."""
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen:
        return (f"Keras is installed but could not import its backend {chosen!r} (from KERAS_BACKEND; the "
                f"error is chained below). Install that backend, or set KERAS_BACKEND to an installed one "
                f"(torch, jax or tensorflow).")
    return ("Keras is installed but could not import its backend (the error is chained below). Without "
            "KERAS_BACKEND, Keras 3 uses TensorFlow (or the backend named in ~/.keras/keras.json). Set "
            "KERAS_BACKEND=torch (or jax) in the environment before Python starts, or install a backend "
            "(pip install tensorflow).")


def __getattr__(name: str) -> Any:
    """``TrackerCallback``, defined on first access (it subclasses ``keras.callbacks.Callback``).

    Raises:
        ImportError: Keras is missing (``pip install 'tracker[keras]'``), or its backend cannot be
            imported (set ``KERAS_BACKEND=torch``, or install a backend).
    """
    if name == "TrackerCallback":
        import_framework("keras", "keras", hint=_backend_hint())
        from integrations._keras_callback import TrackerCallback

        return TrackerCallback
    raise AttributeError(f"module 'integrations.keras' has no attribute {name!r}")

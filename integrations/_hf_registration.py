"""Make ``TrainingArguments(report_to="tracker")`` resolve, without importing transformers.

Transformers looks ``report_to`` names up in the dict ``INTEGRATION_TO_CALLBACK`` of
``transformers.integrations.integration_utils`` when a ``Trainer`` is built; it has no plugin
registry. ``arm()`` adds ``"tracker"`` to that dict: at once if the module is already imported,
otherwise when it is (a ``sys.meta_path`` finder that answers for that one module name, runs
the real loader, adds the entry, then removes itself). Importing this module imports nothing
that the interpreter has not already loaded.

Two things arm it. ``import integrations.huggingface`` calls ``arm()``. And the start-up hook
``tracker_hf_autoregister.pth``, which the package installs into site-packages (see ``setup.py``),
puts a stub finder first on ``sys.meta_path`` at every interpreter start (unless
``TRACKER_HF_AUTOREGISTER`` is ``0``/``false``); the stub imports nothing, and only when
transformers' integration module is first looked up does it import this module and call
``hand_over``, which puts the finder here in its place.
"""

from __future__ import annotations

import sys
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec

__all__ = ["REPORT_TO_NAME", "START_UP_STUB", "arm", "hand_over"]

REPORT_TO_NAME = "tracker"
START_UP_STUB = "TrackerStartUpHook"
"""The class name of the start-up hook's stub finder (defined in ``setup.py``'s ``.pth`` text)."""
_TARGET = "transformers.integrations.integration_utils"


def arm() -> None:
    """Register ``report_to="tracker"`` now, or when transformers' integration module is imported.

    Side effects: adds one entry to ``INTEGRATION_TO_CALLBACK``, or one finder to ``sys.meta_path``
    (at most one, removed once it has done its work). Never imports transformers itself.
    """
    module = sys.modules.get(_TARGET)
    if module is not None:
        _register(module)
    elif not any(isinstance(finder, _RegisterOnImport) or type(finder).__name__ == START_UP_STUB
                 for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnImport())


def hand_over(stub: object, name: str, path: Sequence[str] | None, target: ModuleType | None) -> ModuleSpec | None:
    """The start-up stub's ``find_spec`` for transformers' integration module: take the stub off
    ``sys.meta_path`` and answer as the finder here would (the module registers once it has executed)."""
    if stub in sys.meta_path:
        sys.meta_path.remove(stub)
    return _RegisterOnImport().find_spec(name, path, target)


def _register(module: ModuleType) -> None:
    """Add ``"tracker"`` to the module's ``INTEGRATION_TO_CALLBACK``; warn if transformers changed that dict."""
    table = getattr(module, "INTEGRATION_TO_CALLBACK", None)
    if isinstance(table, dict):
        table.setdefault(REPORT_TO_NAME, _TrackerCallbackOnDemand)
        return
    from tracker_core._errors import TrackerWarning

    warnings.warn(f"tracker: this transformers version has no INTEGRATION_TO_CALLBACK, so report_to="
                  f"{REPORT_TO_NAME!r} cannot be registered; pass "
                  f"callbacks=[integrations.huggingface.TrackerCallback()] instead.", TrackerWarning, stacklevel=2)


class _TrackerCallbackOnDemand:
    """What ``INTEGRATION_TO_CALLBACK["tracker"]`` holds: the ``Trainer`` instantiates it, and gets a
    ``TrackerCallback``. Registering thus imports nothing, in the middle of whatever import triggered it."""

    def __new__(cls) -> Any:
        from integrations.huggingface import TrackerCallback

        return TrackerCallback()


class _RegisterOnImport:
    """A meta path finder for transformers' integration module only: it lets the normal finders
    locate it, and registers the callback right after the module has executed."""

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if name != _TARGET:
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(name, path, target)
                if spec is not None:
                    break
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        execute = loader.exec_module

        def exec_then_register(module: ModuleType) -> None:
            execute(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            _register(module)

        try:
            loader.exec_module = exec_then_register  # type: ignore[method-assign]
        except AttributeError:  # a loader that cannot be wrapped: the import goes on, unregistered
            sys.meta_path.remove(self)
        return spec

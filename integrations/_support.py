"""What every framework adapter shares: importing its framework with an install hint, and attaching to a run.

Principle 8 ("adapters attach; they do not own"): an adapter uses the run it is given, else the run
already active in the process (the user's or a sweep agent's), and only then starts one itself.
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType
from typing import Any

import tracker_core
from tracker_core._errors import TrackerWarning
from tracker_core._fluent import active_run

__all__ = ["attach_run", "import_framework", "warn_once"]


def import_framework(module: str, extra: str, hint: str | None = None) -> ModuleType:
    """Import ``module`` or raise an ``ImportError`` that names the extra to install.

    Args:
        module: the framework's import name, e.g. ``"lightning.pytorch"``.
        extra: this project's extra that installs it, e.g. ``"lightning"``.
        hint: a more specific message used instead of the install hint, when the framework is installed
            but failed to import for another known reason.

    Raises:
        ImportError: the framework is missing or cannot be imported; the original error is chained.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == module.split(".")[0]
        if missing or hint is None:
            message = (f"{module} is not installed (or failed to import: {exc}). "
                       f"Install it with: pip install 'tracker[{extra}]'")
        else:
            message = hint
        raise ImportError(message, name=module) from exc


def attach_run(run: tracker_core.Run | None = None, **init_options: Any) -> tuple[tracker_core.Run, bool]:
    """The run an adapter logs to, and whether the adapter started it.

    ``run`` if given, else the active run, else ``tracker_core.init(**init_options)`` (None options are
    left to their TRACKER_* variables and defaults). On a non-zero rank ``init`` returns a run that
    writes nothing, so the adapter need not check the rank itself.

    Raises:
        SettingsError (and the other errors of ``init``): bad options for a new run.
    """
    if run is not None:
        return run, False
    current = active_run()
    if current is not None:
        return current, False
    return tracker_core.init(**{key: value for key, value in init_options.items() if value is not None}), True


def warn_once(warned: set[str], adapter: str, what: str, error: BaseException) -> None:
    """Warn (``TrackerWarning``) that ``adapter``'s ``what`` failed and training goes on, the first time
    ``what`` fails; ``warned`` remembers which have been reported (it is updated)."""
    if what not in warned:
        warned.add(what)
        warnings.warn(f"tracker: {adapter} failed in {what} ({error!r}); training continues, and this is not "
                      f"reported again.", TrackerWarning, stacklevel=3)

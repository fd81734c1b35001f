"""tracker_core: record training runs to a crash-safe local store and read them back.

    import tracker_core as tracker
    run = tracker.init(project="p", config={"lr": 3e-4})
    run.log({"train/loss": 0.5}, step=0)
    run.finish()

Module-level ``run``, ``config`` and ``summary`` follow the active run (``None``
when there is none), as in W&B.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tracker_core import sync as _sync  # noqa: F401 - registers the server client behind Api(server=...)
from tracker_core._errors import (
    ConfigChangeError,
    LogValueError,
    PersistError,
    RunExistsError,
    RunLockedError,
    RunNotFoundError,
    RunStateError,
    RunStopped,
    SettingsError,
    StepOrderError,
    TrackerError,
    TrackerWarning,
)
from tracker_core._fluent import alert, define_metric, finish, init, log, unwatch, watch
from tracker_core._run import Run
from tracker_core.alerts import AlertLevel
from tracker_core.api import Api, StoredRun

__version__ = "0.1.0"

__all__ = [
    "AlertLevel",
    "Api",
    "Artifact",
    "ArtifactError",
    "Audio",
    "BoundingBoxes2D",
    "Classes",
    "ConfigChangeError",
    "Histogram",
    "Image",
    "ImageMask",
    "LogValueError",
    "MediaError",
    "PersistError",
    "Plot",
    "Run",
    "RunExistsError",
    "RunLockedError",
    "RunNotFoundError",
    "RunStateError",
    "RunStopped",
    "Settings",
    "SettingsError",
    "StepOrderError",
    "StoredRun",
    "Table",
    "TrackerError",
    "TrackerWarning",
    "Video",
    "__version__",
    "agent",
    "alert",
    "config",
    "controller",
    "define_metric",
    "finish",
    "init",
    "link_model",
    "log",
    "log_artifact",
    "log_model",
    "login",
    "mark_preempting",
    "require",
    "restore",
    "run",
    "save",
    "setup",
    "summary",
    "sweep",
    "teardown",
    "unwatch",
    "use_artifact",
    "use_model",
    "watch",
]


_MEDIA = ("Audio", "BoundingBoxes2D", "Classes", "Histogram", "Image", "ImageMask", "MediaError", "Plot", "Table",
          "Video")
_ARTIFACTS = ("Artifact", "ArtifactError")
_SWEEPS = ("agent", "controller", "sweep")
_WANDB_FUNCTIONS = ("link_model", "log_artifact", "log_model", "login", "mark_preempting", "require", "restore",
                    "save", "setup", "teardown", "use_artifact", "use_model")

if TYPE_CHECKING:  # imported on first use (below), so that `import tracker_core` stays cheap
    from tracker_core._module_functions import (
        link_model,
        log_artifact,
        log_model,
        login,
        mark_preempting,
        require,
        restore,
        save,
        setup,
        teardown,
        use_artifact,
        use_model,
    )
    from tracker_core._wandb_settings import Settings
    from tracker_core.sweeps import agent, controller, sweep


def __getattr__(name: str) -> Any:
    """``run``, ``config`` and ``summary`` of the active run, looked up at each access; media
    classes, W&B's other module functions, ``Settings`` and the sweep functions, imported on first use."""
    if name in _WANDB_FUNCTIONS or name == "Settings":
        from tracker_core import _module_functions, _wandb_settings

        value = getattr(_wandb_settings if name == "Settings" else _module_functions, name)
        globals()[name] = value  # found directly from now on
        return value
    if name in _MEDIA:
        from tracker_core import media

        return getattr(media, name)
    if name == "reports":
        import importlib

        return importlib.import_module("tracker_core.reports")
    if name in _SWEEPS:
        from tracker_core import sweeps

        return getattr(sweeps, name)
    if name in _ARTIFACTS:
        from tracker_core import artifacts

        return getattr(artifacts, name)
    if name in ("run", "config", "summary"):
        from tracker_core._fluent import active_run

        active = active_run()
        if name == "run" or active is None:
            return active
        return getattr(active, name)
    raise AttributeError(f"module 'tracker_core' has no attribute {name!r}")


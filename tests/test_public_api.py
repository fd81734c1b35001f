"""The public surface is exactly what it should be, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import tracker_core

EXPECTED = {
    "AlertLevel", "Api", "Artifact", "ArtifactError", "Audio", "ConfigChangeError", "Histogram", "Image",
    "LogValueError", "MediaError", "PersistError", "Plot", "Run", "RunExistsError", "RunLockedError",
    "RunNotFoundError", "RunStateError", "SettingsError", "StepOrderError", "StoredRun", "Table", "TrackerError",
    "TrackerWarning", "Video", "__version__", "alert", "config", "define_metric", "finish", "init", "log", "run",
    "summary", "unwatch", "watch",
    # W&B's module-level functions and Settings
    "Settings", "link_model", "log_artifact", "log_model", "login", "mark_preempting", "require", "restore", "save",
    "setup", "teardown", "use_artifact", "use_model",
    # W&B's overlay types for Image(masks=, boxes=, classes=)
    "BoundingBoxes2D", "Classes", "ImageMask",
    # sweeps (RunStopped is a BaseException, not an error)
    "RunStopped", "agent", "controller", "sweep",
}


def test_exported_members_are_exactly_the_public_api() -> None:
    assert set(tracker_core.__all__) == EXPECTED
    for name in EXPECTED - {"run", "config", "summary"}:
        assert getattr(tracker_core, name) is not None


def test_every_error_derives_from_the_root() -> None:
    for name in tracker_core.__all__:
        value = getattr(tracker_core, name)
        if isinstance(value, type) and issubclass(value, Exception) and name != "TrackerWarning":
            assert issubclass(value, tracker_core.TrackerError), name


def test_import_pulls_in_no_heavy_dependency() -> None:
    code = ("import sys, tracker_core; heavy = [m for m in ('torch', 'numpy', 'requests', 'pydantic', 'orjson.x') "
            "if m in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_core_imports_no_adapter() -> None:
    """Imports point one way: adapters -> core. (The start-up hook, if installed, imports nothing either.)"""
    code = "import sys, tracker_core; print(sorted(m for m in sys.modules if m.startswith('integrations')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

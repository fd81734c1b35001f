"""Build steps that ``pyproject.toml`` cannot declare; everything else about the package is there.

setuptools runs this file for every build (wheel, sdist, ``pip install -e``). Two steps, each one
method called from ``BuildPy.run``: place the start-up hook ``tracker_hf_autoregister.pth`` at the
root of what is installed into site-packages (pytest-cov and setuptools ship ``.pth`` files the same
way), and build the web UI bundle from ``ui/`` into ``tracker_server/_ui`` when Node.js is present
(``ui/build_bundle.py``; a source tree that already holds a built bundle is packaged as it is).

Where files land differs in an editable (PEP 660) install: setuptools then builds a wheel that
holds only its own finder, and ignores whatever ``build_py`` writes to ``build_lib``. Files meant
for the root of site-packages go to the directory ``install`` writes to, which is that wheel's
unpacked root; package files would instead be built in place, next to the sources.
"""

from __future__ import annotations

import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py as _build_py

HERE = os.path.dirname(os.path.abspath(__file__))
UI_SOURCES = os.path.join(HERE, "ui")

START_UP_HOOK = "tracker_hf_autoregister.pth"

# What the hook does, as one line (site.py runs each line that starts with "import" at interpreter
# start, and skips lines that start with "#"): unless TRACKER_HF_AUTOREGISTER is 0 or false, put a
# stub finder first on sys.meta_path, once (Python 3.11 runs a venv's .pth files twice). It imports
# nothing; for every import it compares one name, and when transformers' integration module is
# looked up, it hands over to integrations._hf_registration.
_STUB_FIND_SPEC = (
    'lambda self, name, path=None, target=None: None if name != "transformers.integrations.integration_utils" '
    'else __import__("integrations._hf_registration", fromlist=["hand_over"]).hand_over(self, name, path, target)')
START_UP_HOOK_TEXT = (
    "# Installed by the tracker package, so that TrainingArguments(report_to=\"tracker\") resolves in a script\n"
    "# that imports nothing of the tracker. See integrations/_hf_registration.py; TRACKER_HF_AUTOREGISTER=0 turns\n"
    "# it off.\n"
    'import os, sys; os.environ.get("TRACKER_HF_AUTOREGISTER", "").strip().lower() in ("0", "false") or '
    'any(type(finder).__name__ == "TrackerStartUpHook" for finder in sys.meta_path) or '
    f'sys.meta_path.insert(0, type("TrackerStartUpHook", (), {{"find_spec": {_STUB_FIND_SPEC}}})())\n')


class BuildPy(_build_py):
    """``build_py``, then the start-up hook (outside the packages) and the web UI bundle."""

    def run(self) -> None:
        super().run()
        self._write_start_up_hook()
        self._build_ui()

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), self._start_up_hook_path()]

    def _site_packages_root(self) -> str:
        if self.editable_mode:  # the unpacked editable wheel (see the module docstring)
            return str(self.get_finalized_command("install").install_lib)
        return str(self.build_lib)

    def _start_up_hook_path(self) -> str:
        return os.path.join(self._site_packages_root(), START_UP_HOOK)

    def _write_start_up_hook(self) -> None:
        path = self._start_up_hook_path()
        self.mkpath(os.path.dirname(path))
        self.announce(f"writing {path}", level=2)
        with open(path, "w", encoding="utf-8") as file:
            file.write(START_UP_HOOK_TEXT)


    def _build_ui(self) -> None:
        """Package files: in place beside the sources for an editable install, else into ``build_lib``."""
        package_root = HERE if self.editable_mode else str(self.build_lib)
        if os.path.isfile(os.path.join(UI_SOURCES, "build_bundle.py")):  # not in a tree without ui/
            sys.path.insert(0, UI_SOURCES)
            from build_bundle import build_ui

            if build_ui(package_root):
                return
        if self.editable_mode:
            return
        source = os.path.join(HERE, "tracker_server", "_ui")
        if os.path.isfile(os.path.join(source, "index.html")):
            self.copy_tree(source, os.path.join(package_root, "tracker_server", "_ui"))


setup(cmdclass={"build_py": BuildPy})

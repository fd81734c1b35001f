"""Build steps beyond pyproject.toml's declarative metadata."""

from __future__ import annotations

import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ui"))
from build_bundle import build_ui


class BuildWithUI(build_py):
    """The web UI step: after the Python files, build ``ui/`` into ``tracker_server/_ui`` when Node.js is present
    (a source tree that already holds a built bundle is packaged as it is without Node.js)."""

    def run(self) -> None:
        super().run()
        if not build_ui(self.build_lib):
            source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tracker_server", "_ui")
            if os.path.isfile(os.path.join(source, "index.html")):
                self.copy_tree(source, os.path.join(self.build_lib, "tracker_server", "_ui"))


setup(cmdclass={"build_py": BuildWithUI})

"""Build the web UI bundle and copy it into the ``tracker_server`` package (``tracker_server/_ui``).

Run by the package build (``setup.py``'s build step) and by hand: ``python ui/build_bundle.py``.
Needs Node.js 18+ and npm; without them it says so and leaves the package without a bundle
(the server then explains at ``/`` how to build it). Installs exactly the committed lock file (``npm ci``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

UI = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(UI)


def build_ui(package_root: str = ROOT, *, required: bool = False) -> bool:
    """Build ``ui/`` and copy ``ui/dist`` to ``<package_root>/tracker_server/_ui``; returns whether it did.

    Raises:
        RuntimeError: npm failed, or (with ``required``) Node.js is missing.
    """
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None or not os.path.isfile(os.path.join(UI, "package-lock.json")):
        message = "tracker: Node.js/npm not found; building without the web UI bundle (the server will say so at /)"
        if required:
            raise RuntimeError(message)
        print(message, file=sys.stderr)
        return False
    for step in ([npm, "ci", "--no-audit", "--no-fund"], [npm, "run", "build"]):
        if step[1] == "ci" and _installed():
            continue
        done = subprocess.run(step, cwd=UI, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"tracker: `{' '.join(step[1:])}` failed in {UI} (exit {done.returncode})")
    target = os.path.join(package_root, "tracker_server", "_ui")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(os.path.join(UI, "dist"), target)
    return True


def _installed() -> bool:
    """node_modules matches the lock file (npm writes its own copy of the lock after an install)."""
    copy = os.path.join(UI, "node_modules", ".package-lock.json")
    lock = os.path.join(UI, "package-lock.json")
    return os.path.isfile(copy) and os.path.getmtime(copy) >= os.path.getmtime(lock)


if __name__ == "__main__":
    build_ui(required=True)
    print(f"tracker: web UI built into {os.path.join(ROOT, 'tracker_server', '_ui')}")

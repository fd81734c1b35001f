"""Imports between the value encoders and the media encoders point one way.

``tracker_core.media`` builds on ``tracker_core._values`` (scalars and trees) and never on
``tracker_core._encoding`` (rows and media references), which in turn may import the media
package. Checked statically over every import statement, including those inside functions.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import tracker_core

PACKAGE = pathlib.Path(tracker_core.__file__).parent


def _imports(path: pathlib.Path) -> set[str]:
    """Every absolute tracker_core module named by an import in ``path``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names if module == "tracker_core")
    return {name for name in names if name == "tracker_core" or name.startswith("tracker_core.")}


def test_media_encoders_import_only_values_errors_and_themselves() -> None:
    allowed = ("tracker_core.media", "tracker_core._values", "tracker_core._errors")
    files = sorted((PACKAGE / "media").glob("*.py"))
    assert len(files) >= 10
    for path in files:
        for name in _imports(path):
            assert name.startswith(allowed), f"{path.name} imports {name}: media must not depend on it"


def test_values_module_imports_nothing_of_the_package() -> None:
    assert _imports(PACKAGE / "_values.py") == set()


def test_encoding_reaches_media_only_downwards() -> None:
    """_encoding may use the media package; the loop would need media to come back, checked above."""
    names = _imports(PACKAGE / "_encoding.py")
    assert "tracker_core._values" in names
    assert names <= {"tracker_core._values", "tracker_core.media"}


def test_importing_media_stays_cheap() -> None:
    code = ("import sys; import tracker_core.media; "
            "print('numpy' in sys.modules, 'PIL' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]  # cheap: no numpy, no Pillow

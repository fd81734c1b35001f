"""A command trial's argv: W&B's ``command`` macros expanded.

| macro | becomes |
|---|---|
| ``${env}`` | ``/usr/bin/env`` (nothing on Windows) |
| ``${interpreter}`` | the agent's Python (``sys.executable``; W&B writes ``python``) |
| ``${program}`` | the config's ``program`` |
| ``${args}`` | ``--name=value`` for each top-level parameter |
| ``${args_no_hyphens}`` | ``name=value`` |
| ``${args_no_boolean_flags}`` | ``--name`` for a true boolean, nothing for a false one, else ``--name=value`` |
| ``${args_json}`` | the parameters as one JSON argument |
| ``${args_json_file}`` | the path of a file holding that JSON |

A whole item that is a list macro (``${args}``) expands into several items; a macro inside a longer item is
replaced as text only when it stands for one value (``--config=${args_json_file}``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["expand_command"]


def _value(value: Any) -> str:
    return str(value)  # W&B's f"--{key}={value}": lists as [1, 2], booleans as True/False


def expand_command(command: Sequence[str], program: str | None, params: dict[str, Any],
                   json_file: str | None = None) -> list[str]:
    single = {"env": None if sys.platform == "win32" else "/usr/bin/env", "interpreter": sys.executable,
              "program": program, "args_json": json.dumps(params), "args_json_file": json_file}
    lists = {
        "args": [f"--{k}={_value(v)}" for k, v in params.items()],
        "args_no_hyphens": [f"{k}={_value(v)}" for k, v in params.items()],
        "args_no_boolean_flags": [f"--{k}" if v is True else f"--{k}={_value(v)}"
                                  for k, v in params.items() if v is not False],
    }
    argv: list[str] = []
    for item in command:
        item = str(item)
        name = item[2:-1] if item.startswith("${") and item.endswith("}") else None
        if name in lists:
            argv.extend(lists[name])
        elif name in single:
            if single[name] is not None:
                argv.append(str(single[name]))
        else:
            for key, value in single.items():
                if value is not None:
                    item = item.replace("${" + key + "}", str(value))
            argv.append(item)
    return argv

"""Where a run lives on disk, and its ``run.json`` snapshot."""

from __future__ import annotations

import os
import threading
from typing import Any

import orjson

__all__ = ["FORMAT_VERSION", "RunDir", "new_run_id"]

FORMAT_VERSION = 1
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_run_id() -> str:
    """13 base-36 characters from 64 random bits (unique across machines)."""
    number = int.from_bytes(os.urandom(8), "big")
    chars = []
    for _ in range(13):
        number, digit = divmod(number, 36)
        chars.append(_ALPHABET[digit])
    return "".join(chars)


class RunDir:
    """``<root>/<project>/<run_id>/`` and the files in it."""

    def __init__(self, root: str, project: str, run_id: str) -> None:
        self.root, self.project, self.run_id = root, project, run_id
        self.path = os.path.join(root, project, run_id)
        self.events = os.path.join(self.path, "events.jsonl")
        self.meta = os.path.join(self.path, "run.json")
        self.lock = os.path.join(self.path, ".lock")
        self.files = os.path.join(self.path, "files")

    def exists(self) -> bool:
        return os.path.exists(self.events)

    def create(self) -> None:
        """Make the run's folders; raises OSError."""
        os.makedirs(self.files, exist_ok=True)
        os.makedirs(os.path.join(self.path, "media"), exist_ok=True)

    def write_meta(self, meta: dict[str, Any]) -> None:
        """Replace run.json atomically (write a temporary file, then rename); raises OSError."""
        temporary = f"{self.meta}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(orjson.dumps(meta, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
        os.replace(temporary, self.meta)

    def read_meta(self) -> dict[str, Any] | None:
        try:
            with open(self.meta, "rb") as handle:
                meta = orjson.loads(handle.read())
        except (OSError, orjson.JSONDecodeError):
            return None
        return meta if isinstance(meta, dict) else None

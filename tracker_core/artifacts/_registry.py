"""Per-name registries: ``<root>/artifacts/names/<name>/registry.json``, and ``ArtifactVersion``.

A registry holds the name's type, its versions (number, digest, producer, consumers, description,
metadata, size, file count, creation time), its aliases (alias -> version number, so an alias is
unique by construction) and the next version number (numbers are never reused, even after a
delete). "latest" is not stored: it is always the newest remaining version.

Every change happens in ``Registry.edit()``: under an exclusive ``flock`` on the name's ``.lock``
file, read, change, write a temporary file, fsync, rename. Readers never lock; they see either the
old or the new file.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson

from tracker_core.artifacts._errors import ArtifactError
from tracker_core.artifacts._hashing import atomic_write

__all__ = ["ArtifactVersion", "Registry", "file_lock", "to_version"]

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ArtifactVersion:
    """One committed version of an artifact, as the registry held it when this object was made."""

    name: str
    type: str
    version: int
    digest: str
    aliases: tuple[str, ...]
    created_at: float
    created_by: str | None
    used_by: tuple[str, ...]
    description: str | None
    metadata: dict[str, Any] = field(hash=False)
    size: int
    file_count: int

    @property
    def ref(self) -> str:
        """``"name:vN"``."""
        return f"{self.name}:v{self.version}"


def to_version(data: dict[str, Any], entry: dict[str, Any]) -> ArtifactVersion:
    number = int(entry["version"])
    aliases = sorted(alias for alias, target in data["aliases"].items() if target == number)
    if data["versions"] and data["versions"][-1]["version"] == number:
        aliases.insert(0, "latest")
    return ArtifactVersion(
        name=data["name"], type=data["type"], version=number, digest=entry["digest"], aliases=tuple(aliases),
        created_at=float(entry["created_at"]), created_by=entry.get("created_by"),
        used_by=tuple(entry.get("used_by", ())), description=entry.get("description"),
        metadata=dict(entry.get("metadata") or {}), size=int(entry["size"]), file_count=int(entry["file_count"]),
    )


@contextmanager
def file_lock(path: str, exclusive: bool = True, patience: float = 60.0) -> Iterator[None]:
    """Hold a ``flock`` on ``path`` (created if needed); the kernel drops it if the holder dies.

    Raises:
        ArtifactError: not acquired within ``patience`` seconds.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + patience
        while True:
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ArtifactError(f"{path} stayed locked for {patience:.0f} s",
                                        "another process writes the artifact store; retry when it is done") from None
                time.sleep(0.005)
        yield
    finally:
        os.close(fd)


class Registry:
    """The registry of one artifact name."""

    def __init__(self, names_root: str, name: str) -> None:
        self.name = name
        self.folder = os.path.join(names_root, name)
        self.file = os.path.join(self.folder, "registry.json")
        self.lock = os.path.join(self.folder, ".lock")

    def read(self) -> dict[str, Any] | None:
        """The registry, or None when the name has none. Raises ArtifactError when it is damaged."""
        try:
            with open(self.file, "rb") as handle:
                data = orjson.loads(handle.read())
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError) as error:
            raise ArtifactError(f"the registry of {self.name!r} cannot be read: {error}",
                                f"check or restore {self.file}") from None
        if not isinstance(data, dict) or not isinstance(data.get("versions"), list):
            raise ArtifactError(f"the registry of {self.name!r} is damaged", f"check or restore {self.file}")
        return data

    @contextmanager
    def edit(self) -> Iterator[dict[str, Any]]:
        """Yield the registry (an empty one for a new name) under the lock; written back if no exception."""
        os.makedirs(self.folder, exist_ok=True)
        with file_lock(self.lock):
            data = self.read() or {"format_version": FORMAT_VERSION, "name": self.name, "type": None,
                                   "next_version": 0, "versions": [], "aliases": {}}
            yield data
            atomic_write(self.file, orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))

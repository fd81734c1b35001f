"""Hashing files, and the digest cache that spares re-hashing files that did not change.

The cache, ``<root>/artifacts/digest-cache.json``, maps an absolute path to ``[size, mtime_ns,
inode, sha256]``; an entry is used only while all three of size, mtime_ns and inode still match.
The inode is an addition to (path, size, mtime) that catches a file replaced by rename with its
times preserved (``cp -p``, ``rsync -t``).

A file modified within the filesystem's timestamp granularity of being hashed could keep its
mtime (the "racily clean" problem git also has), so a file whose mtime is less than
``RACY_NS`` before the hash started is hashed but not cached; the next commit caches it.

Concurrent writers merge their entries into what is on disk and replace the file atomically;
a lost entry only costs a re-hash.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["CHUNK", "RACY_NS", "DigestCache", "atomic_write", "hash_file", "is_racy"]

CHUNK = 1 << 20
RACY_NS = 2_000_000_000


def is_racy(st: os.stat_result, started_ns: int) -> bool:
    """True when ``st``'s mtime is too close to ``started_ns`` to trust it as a change detector."""
    return st.st_mtime_ns + RACY_NS > started_ns


def hash_file(path: str, on_bytes: Callable[[int], None]) -> tuple[str, int]:
    """(sha256, size) of ``path``'s content; ``on_bytes(n)`` after each chunk read. Raises OSError."""
    digest, total = hashlib.sha256(), 0
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while True:
            count = handle.readinto(buffer)
            if not count:
                break
            digest.update(view[:count])
            total += count
            on_bytes(count)
    return digest.hexdigest(), total


def atomic_write(path: str, data: bytes, sync: bool = True) -> None:
    """Write ``data`` to a unique temporary beside ``path``, fsync it, then rename over ``path``."""
    temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


class DigestCache:
    """(absolute path, size, mtime_ns, inode) -> sha256, persisted as one JSON file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._entries: dict[str, list[Any]] | None = None
        self._new: dict[str, list[Any]] = {}

    def _load(self) -> dict[str, list[Any]]:
        try:
            with open(self.path, "rb") as handle:
                data = orjson.loads(handle.read())
        except (OSError, orjson.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def lookup(self, path: str, st: os.stat_result) -> str | None:
        """The cached sha256 of ``path`` if its size, mtime and inode still match ``st``."""
        if self._entries is None:
            self._entries = self._load()
        entry = self._new.get(path) or self._entries.get(path)
        if isinstance(entry, list) and len(entry) == 4 and entry[:3] == [st.st_size, st.st_mtime_ns, st.st_ino]:
            sha = entry[3]
            return sha if isinstance(sha, str) else None
        return None

    def remember(self, path: str, st: os.stat_result, sha: str, started_ns: int) -> None:
        """Record ``sha`` for ``path`` unless its mtime is racy (see the module docstring)."""
        if not is_racy(st, started_ns):
            self._new[path] = [st.st_size, st.st_mtime_ns, st.st_ino, sha]

    def save(self) -> None:
        """Merge new entries into the file on disk; a failure only costs future re-hashing."""
        if not self._new:
            return
        merged = self._load()
        merged.update(self._new)
        try:
            atomic_write(self.path, orjson.dumps(merged), sync=False)
        except OSError:
            return
        self._entries, self._new = merged, {}

"""The team server's URL and API key as ``tracker login`` stores them, for this user only.

The file is ``$XDG_CONFIG_HOME/tracker/credentials.json`` (``~/.config/tracker/...`` by default),
created with mode 0600 in a folder of mode 0700, and replaced atomically.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import orjson

__all__ = ["Credentials", "credentials_path", "load_credentials", "save_credentials", "secret_values"]


class Credentials(NamedTuple):
    url: str
    key: str

    def __repr__(self) -> str:  # never show the key
        return f"Credentials(url={self.url!r}, key='***')"


def credentials_path() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "tracker", "credentials.json")


def load_credentials() -> Credentials | None:
    """The stored server and key, or None when there are none (or the file is unreadable)."""
    try:
        with open(credentials_path(), "rb") as handle:
            data = orjson.loads(handle.read())
    except (OSError, orjson.JSONDecodeError):
        return None
    if isinstance(data, dict) and isinstance(data.get("url"), str) and isinstance(data.get("key"), str):
        return Credentials(data["url"], data["key"])
    return None


def save_credentials(url: str, key: str) -> str:
    """Store ``url`` and ``key`` for this user (mode 0600) and return the file's path; raises OSError."""
    path = credentials_path()
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask, and whatever an older file had
        os.write(fd, orjson.dumps({"url": url.rstrip("/"), "key": key}, option=orjson.OPT_APPEND_NEWLINE))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    return path


def secret_values(*known: str | None) -> list[str]:
    """The API keys this process may hold (``known`` ones, the environment's, the stored one), to redact
    wherever text is recorded."""
    found = [value or "" for value in known] + [os.environ.get("TRACKER_API_KEY", "")]
    stored = load_credentials()
    if stored is not None:
        found.append(stored.key)
    return [value for value in dict.fromkeys(found) if len(value) >= 8]

"""The server's configuration: where its database and blobs live, and its limits.

Command-line options fill it; the one environment variable it reads, ``TRACKER_S3_ENDPOINT_URL``
(an S3-compatible endpoint other than AWS), is declared with the others in ``tracker_core._settings``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["DEFAULT_PORT", "ServerConfig", "database_url"]

DEFAULT_PORT = 8750


@dataclass(frozen=True)
class ServerConfig:
    """Everything a server process needs; each worker builds its app from the same one.

    ==================  ==================================================================
    data                folder of the embedded SQLite database and local blobs
    db                  database URL (``postgresql://user@host/db``); None: SQLite in ``data``
    blobs               ``s3://bucket/prefix`` or a folder; None: ``<data>/blobs``
    max_batch_bytes     largest records batch accepted, before and after gunzip (413 above)
    max_blob_bytes      largest blob accepted (413 above)
    poll_interval       seconds between database polls of a live-events stream
    ==================  ==================================================================
    """

    data: str = "tracker_server"
    db: str | None = None
    blobs: str | None = None
    max_batch_bytes: int = 32 << 20
    max_blob_bytes: int = 64 << 30
    poll_interval: float = 0.2
    keepalive_interval: float = 15.0

    @property
    def database_url(self) -> str:
        return database_url(self.db, self.data)

    @property
    def blobs_url(self) -> str:
        return self.blobs or os.path.join(os.path.abspath(self.data), "blobs")


def database_url(url: str | None, data: str) -> str:
    """A SQLAlchemy URL: SQLite in ``data`` by default; a plain ``postgresql://`` URL gets the psycopg driver."""
    if not url:
        return "sqlite:///" + os.path.join(os.path.abspath(data), "tracker.db")
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain):]
    return url

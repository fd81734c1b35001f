"""Stored user files served as inert bytes.

A run file or an image can hold anything its run wrote (an ``.html`` or ``.svg`` file included), and it
is served from the UI's own origin; opened directly in a browser it must not run as a page there. So
every stored file goes out sandboxed (no script, no same-origin access), with no type sniffing.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator

from fastapi.responses import StreamingResponse

__all__ = ["INERT_HEADERS", "stored_file"]

INERT_HEADERS = {"Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; "
                                            "style-src 'unsafe-inline'",
                 "X-Content-Type-Options": "nosniff"}


def stored_file(chunks: Iterator[bytes], path: str, size: int, digest: str) -> StreamingResponse:
    """The response for a stored file named ``path``: its type guessed from the name, sandboxed."""
    media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return StreamingResponse(chunks, media_type=media_type,
                             headers={"Content-Length": str(size), "X-Content-SHA256": digest, **INERT_HEADERS})

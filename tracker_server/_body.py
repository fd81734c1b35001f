"""Reading request bodies within limits: 413 past the limit, gzip undone within the same limit."""

from __future__ import annotations

import zlib

from fastapi import Request

from tracker_server._errors import ApiError

__all__ = ["read_body"]


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"the body is over {limit} bytes; send smaller batches", limit_bytes=limit)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, gunzipped when ``Content-Encoding: gzip``.

    Raises:
        ApiError: 413 over ``limit`` bytes (sent or unpacked), 400 for a broken gzip stream or another encoding.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise _too_large(limit)
        parts.append(part)
    body = b"".join(parts)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise ApiError(400, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported; use gzip")
    unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = unpacker.decompress(body, limit + 1)
    except zlib.error as error:
        raise ApiError(400, "malformed", f"the body is not valid gzip: {error}") from None
    if len(data) > limit or unpacker.unconsumed_tail:
        raise _too_large(limit)
    if not unpacker.eof:
        raise ApiError(400, "malformed", "the gzip stream is incomplete")
    return data

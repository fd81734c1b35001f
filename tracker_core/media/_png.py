"""A minimal, deterministic PNG writer and header reader (standard library only).

8-bit grayscale, RGB or RGBA; every scanline uses filter 0 and one IDAT chunk holds the
whole image compressed at zlib level 6, so the same pixels always give the same bytes.
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["encode_png", "png_header"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type
_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}  # PNG colour type -> channels (3: palette, shown as RGB)


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def encode_png(pixels: bytes, width: int, height: int, channels: int) -> bytes:
    """PNG bytes for row-major 8-bit ``pixels`` (``height`` rows of ``width * channels`` bytes).

    Raises:
        ValueError: ``channels`` is not 1, 3 or 4, or ``pixels`` has the wrong length.
    """
    if channels not in _COLOR_TYPES:
        raise ValueError(f"PNG channels must be 1, 3 or 4, not {channels}")
    stride = width * channels
    if len(pixels) != stride * height:
        raise ValueError(f"expected {stride * height} pixel bytes, got {len(pixels)}")
    view = memoryview(pixels)
    scanlines = b"".join(b"\x00" + view[row * stride:(row + 1) * stride] for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPES[channels], 0, 0, 0)
    return _SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(scanlines, 6)) + _chunk(b"IEND", b"")


def png_header(png: bytes) -> tuple[int, int, int]:
    """``(width, height, channels)`` read from a PNG's IHDR chunk.

    Raises:
        ValueError: ``png`` does not start like a PNG file.
    """
    if len(png) < 33 or not png.startswith(_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    width, height, _depth, color_type = struct.unpack(">IIBB", png[16:26])
    return width, height, _CHANNELS.get(color_type, 3)

"""Reading the framing of W&B's ``.wandb`` transaction logs, without the wandb package.

A ``.wandb`` file is a 7-byte header (``:W&B``, the magic 0xBEE1 little-endian, version 0)
and then LevelDB-style 32 KiB blocks. Each block holds chunks: a 7-byte chunk header (CRC-32,
a little-endian uint16 length, a type: 1 full, 2 first, 3 middle, 4 last) and the payload.
A chunk never crosses a block; fewer than 7 bytes left in a block are zero padding. The header
shares the first block. The CRC is the standard CRC-32 (zlib's, IEEE) over the type byte and
the payload; wandb-core writes this variant (``CRCAlgoIEEE``), not LevelDB's masked CRC-32C.
A record (a serialized ``wandb_internal_pb2.Record``) is one full chunk, or first, middles, last.

A chunk with a bad CRC, length or type is reported with the file and byte offset, and reading
goes on at the next block (as LevelDB's recovery does); a torn tail is reported once.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from tracker_core.migrate._fidelity import Fidelity

__all__ = ["BLOCK_SIZE", "HEADER", "read_records", "record_start"]

BLOCK_SIZE = 32 * 1024
HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
_CHUNK_HEADER = 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_TYPE_CRC = [zlib.crc32(bytes([kind])) for kind in range(256)]  # the CRC of the type byte, to continue from
_READ = 512 * BLOCK_SIZE  # bytes a read: whole blocks


def read_records(path: str, fidelity: Fidelity, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
    """The payload of every intact record in the ``.wandb`` file at ``path``, one by one.

    The file is opened and its header checked now, then read 16 MiB at a time as the records are taken.
    A bad header, a corrupt chunk or a torn tail is recorded with ``fidelity.error`` (the file and byte
    offset) instead of raised; what can be read is still yielded. ``start`` and ``stop``, offsets that
    ``record_start`` gave, read only the records from ``start`` up to ``stop`` (a record begun before
    ``stop`` and not ended there is reported as lost, as when a new record starts inside one).

    Raises:
        OSError: the file cannot be read (now or while the records are taken).
    """
    handle = open(path, "rb")  # noqa: SIM115 - closed by the generator, or here
    base = start - start % BLOCK_SIZE  # reads start at a block
    try:
        data = handle.read(len(HEADER))
        if data == HEADER:
            handle.seek(base)
            data = handle.read(_READ if stop is None else min(_READ, stop - base))
    except OSError:
        handle.close()
        raise
    if len(data) <= len(HEADER) and data != HEADER:
        handle.close()
        if HEADER.startswith(data):
            fidelity.error(f"{path} at byte 0", "the file ends inside its 7-byte header (torn); nothing to read")
        else:
            fidelity.error(f"{path} at byte 0", f"not a W&B transaction log (header {data[:7]!r}, expected "
                           f"{HEADER!r}); the file was skipped")
        return iter(())
    # not `yield from`: a second generator would cost per record
    return _frame(handle, data, path, fidelity, base, max(start - base, len(HEADER) if base == 0 else 0), stop)


def record_start(path: str, offset: int) -> int | None:
    """The offset of the first intact chunk that begins a record (a full or first chunk) at or after the start
    of the block holding ``offset``, as ``read_records`` walks the chunks; None when there is none or the
    file is not a W&B transaction log. Raises OSError."""
    with open(path, "rb") as handle:
        if handle.read(len(HEADER)) != HEADER:
            return None
        base = offset - offset % BLOCK_SIZE
        pos = len(HEADER) if base == 0 else 0
        handle.seek(base)
        while True:
            data = handle.read(_READ)
            size = len(data)
            while pos + _CHUNK_HEADER <= size:
                left = BLOCK_SIZE - pos % BLOCK_SIZE
                if left < _CHUNK_HEADER:
                    pos += left
                    continue
                checksum, length, kind = struct.unpack_from("<IHB", data, pos)
                end = pos + _CHUNK_HEADER + length
                if (kind not in (_FULL, _FIRST, _MIDDLE, _LAST) or length > left - _CHUNK_HEADER or end > size
                        or zlib.crc32(data[pos + _CHUNK_HEADER:end], _TYPE_CRC[kind]) != checksum):
                    pos += left  # what ``_frame`` does with padding, a zeroed block or a corrupt chunk
                    continue
                if kind in (_FULL, _FIRST):
                    return base + pos
                pos = end
            if size < _READ:
                return None
            base, pos = base + size, 0


def _frame(handle: BinaryIO, data: bytes, path: str, fidelity: Fidelity, base: int, pos: int,
           stop: int | None) -> Iterator[bytes]:
    """The records of the open file ``handle`` from ``pos`` in its read ``data`` (at offset ``base``, a block start)
    to its end or to ``stop`` (see ``read_records``).

    Each read is whole blocks, so a chunk never spans two reads (only a record of several chunks does); a
    chunk that claims to go past the end of its read goes past its block, and is reported as that unless
    the read is the file's last.
    """
    unpack = struct.Struct("<IHB").unpack_from
    crc32 = zlib.crc32
    type_crc = _TYPE_CRC
    full_crc = type_crc[_FULL]
    parts: list[bytes] = []  # the chunks of a record begun but not ended
    part_start = 0
    recovering = False  # after a reported corruption: the rest of a broken record is skipped quietly
    eof = False  # at the file's end (not at ``stop``)
    with handle:
        while True:
            if stop is None:
                following = handle.read(_READ) if len(data) == _READ else b""
            else:
                following = handle.read(min(_READ, stop - base - len(data))) if base + len(data) < stop else b""
            last = not following
            eof = last and (stop is None or base + len(data) < stop)
            size = len(data)
            view = memoryview(data)
            while pos + _CHUNK_HEADER <= size:
                left = BLOCK_SIZE - pos % BLOCK_SIZE
                if left < _CHUNK_HEADER:  # the block's zero padding
                    pos += left
                    continue
                checksum, length, kind = unpack(data, pos)
                start = pos + _CHUNK_HEADER
                end = start + length
                if kind == _FULL and not parts and length <= left - _CHUNK_HEADER and end <= size:  # the common case
                    payload = data[start:end]
                    if crc32(payload, full_crc) == checksum:
                        recovering = False
                        yield payload
                        pos = end
                        continue
                problem = None
                if checksum == 0 and length == 0 and kind == 0:
                    pos += left  # a zeroed rest of block (preallocated space, or a writer that stopped)
                    continue
                if end > size and eof:
                    problem = "the file ends inside a chunk (torn)"
                elif length > left - _CHUNK_HEADER:
                    problem = "a chunk longer than the rest of its block"
                elif kind not in (_FULL, _FIRST, _MIDDLE, _LAST):
                    problem = f"an unknown chunk type {kind}"
                elif crc32(view[start:end], type_crc[kind]) != checksum:
                    problem = "a CRC-32 mismatch"
                if problem is not None:
                    fidelity.error(f"{path} at byte {base + pos}", f"{problem}; reading went on at the next block"
                                   + (f" (a record begun at byte {part_start} was lost)" if parts else ""))
                    parts = []
                    recovering = True
                    pos += left
                    continue
                payload = data[start:end]
                if kind in (_FULL, _FIRST):
                    recovering = False
                if kind == _FULL:
                    if parts:
                        _lost_partial(fidelity, path, part_start, base + pos)
                        parts = []
                    yield payload
                elif kind == _FIRST:
                    if parts:
                        _lost_partial(fidelity, path, part_start, base + pos)
                    parts, part_start = [payload], base + pos
                elif not parts:
                    if not recovering:
                        fidelity.error(f"{path} at byte {base + pos}", "the middle or last chunk of a record whose "
                                       "start was lost; skipped")
                elif kind == _MIDDLE:
                    parts.append(payload)
                else:
                    parts.append(payload)
                    yield b"".join(parts)
                    parts = []
                pos = end
            if last:
                break
            base, pos, data = base + size, 0, following  # what is left of this read is its last block's padding
    if not eof:
        if parts:  # at ``stop``: a record starts there
            _lost_partial(fidelity, path, part_start, base + pos)
    elif parts:
        fidelity.error(f"{path} at byte {part_start}", "the file ends inside a record (torn); that record was lost")
    elif pos < size and any(data[pos:]):
        fidelity.error(f"{path} at byte {base + pos}", "the file ends inside a chunk header (torn)")


def _lost_partial(fidelity: Fidelity, path: str, start: int, pos: int) -> None:
    fidelity.error(f"{path} at byte {start}", f"a record begun here was not ended (a new one starts at byte {pos}); "
                   "it was lost")

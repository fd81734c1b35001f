"""Reading W&B history records of plain numbers straight from their bytes, without the protobuf classes.

Most history records of a run hold the same keys, each with a plain JSON number, in an order that changes
from record to record. Once the protobuf classes have read a record of such keys, they are *known*: a
record whose every item is a known key with a number is then read with one compiled pattern (one for each
count of items: it checks the record's whole layout and yields every length, key and value), a check of
every length against what it frames, and one JSON call for the row (an object made of the values in the
keys' order). Reading each item through the protobuf classes costs more than everything else an import
does per row.

A record these patterns do not read exactly (an unknown key, a NaN, a list, a medium, a key or value too long
for one-byte lengths, a length that disagrees with what it frames, a field this reader does not know) is
answered with None: the caller reads that record with the protobuf classes, as before.

The bytes, as protobuf writes them: ``Record`` {num: field 1, varint; history: field 2} ``HistoryRecord``
{item: field 1, repeated; step: field 2 ``HistoryStep`` {num: field 1}} ``HistoryItem`` {key: field 1,
or nested_key: field 2, repeated; value_json: field 16}.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson

__all__ = ["RowReader", "is_number_text"]

_MAX_KEYS = 256
_MAX_ITEMS = 64
_MAX_ORDERS = 8192  # W&B writes a row's items in any order: 5,040 orders of 7 keys
_MAX_KEY = 100  # bytes: an item's length must stay a one-byte varint
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
# Possessive repeats (``*+``, ``?+``): what follows each never matches what it repeats, so backtracking could
# find nothing, and the regex engine keeps no state to backtrack with (a fifth faster).
_HEADER = rb"(?:\x08[\x80-\xff]{0,9}+[\x00-\x7f])?+\x12([\x80-\xff]{0,2}+[\x00-\x7f])"
_STEP = rb"(?:\x12([\x00-\x7f])((?:\x08[\x80-\xff]{0,9}+[\x00-\x7f])?+))?+"
_KEY = rb"([\x01-\x7f][^\x82]*+)"  # its length byte and bytes, up to value_json's tag: checked against the known
_VALUE = rb"\x82\x01([\x00-\x7f])([-+.0-9eE]{1,64}+)"


def is_number_text(text: str) -> bool:
    """True for a JSON number (no NaN or Infinity)."""
    return _NUMBER.fullmatch(text) is not None


def _varint(data: bytes) -> int:
    value = 0
    for shift, byte in enumerate(data):
        value |= (byte & 0x7F) << (7 * shift)
    return value


class RowReader:
    """Reads the history records of one run whose items are known keys with plain numbers (see the module)."""

    def __init__(self) -> None:
        self._names: dict[bytes, str] = {}  # a key's length byte and bytes -> the key
        self._sizes: dict[bytes, int] = {}  # the same -> its item's length less its value's
        self._layouts: dict[int, re.Pattern[bytes]] = {}  # item count -> the pattern of such a record
        self._count = 0  # the item count of the last record read
        self._orders: dict[tuple[bytes, ...], tuple[bytes, int]] = {}  # the keys' orders seen
        self._tag = b""
        self._hits = self._misses = 0  # a run whose records keep missing stops being tried

    def learn(self, keys: Sequence[str], nested: bool) -> None:
        """Know the keys of a record whose every item held one key (``nested``: as ``nested_key``, as
        wandb 0.31 writes them) and a plain JSON number."""
        tag = b"\x12" if nested else b"\x0a"
        if self._tag and tag != self._tag:
            return
        new = [key for key in dict.fromkeys(keys)
               if len(key.encode()) <= _MAX_KEY and bytes([len(key.encode())]) + key.encode() not in self._names]
        if not new or len(self._names) + len(new) > _MAX_KEYS:
            return
        self._tag = tag
        for key in new:
            coded = bytes([len(key.encode())]) + key.encode()  # its length byte, then its bytes
            self._names[coded] = key
            self._sizes[coded] = 4 + len(coded)  # tag, the value's field tag (2) and length byte
        self._count = len(keys)
        self._layout(self._count)

    def _layout(self, count: int) -> re.Pattern[bytes]:
        """The pattern of a record of ``count`` items of known keys (compiled once per count)."""
        layout = self._layouts.get(count)
        if layout is None:
            item = rb"\x0a([\x00-\x7f])" + self._tag + _KEY + _VALUE
            layout = self._layouts[count] = re.compile(_HEADER + item * count + _STEP, re.DOTALL)
        return layout

    def wants(self, keys: Sequence[str]) -> bool:
        """True when some of ``keys`` are not known yet (and could be)."""
        names = self._names
        return len(names) < _MAX_KEYS and any(len(k.encode()) <= _MAX_KEY and bytes([len(k.encode())]) + k.encode()
                                              not in names for k in keys)

    def read(self, payload: bytes) -> dict[str, Any] | None:
        """The row (key -> number) of a history record's bytes, or None when it is not read exactly."""
        layout = self._layouts.get(self._count)
        if layout is None or (self._misses > 10_000 and self._misses > 10 * self._hits):
            return None
        match = layout.fullmatch(payload)
        if match is None:
            count = payload.count(b"\x82\x01")  # value_json's tag, once an item (a guess: checked by the match)
            if not 0 < count <= _MAX_ITEMS or count == self._count:
                self._misses += 1
                return None
            match = self._layout(count).fullmatch(payload)
            if match is None:
                self._misses += 1
                return None
            self._count = count
        groups = match.groups()
        values = groups[4:-2:4]
        lengths = bytes(map(len, values))
        if b"".join(groups[3:-2:4]) != lengths:
            return None
        keys = groups[2:-2:4]
        orders = self._orders
        order = orders.get(keys)
        if order is None:
            order = self._order(keys)
            if order is None:  # a key not known (or one holding value_json's tag)
                self._misses += 1
                return None
            if len(orders) < _MAX_ORDERS:
                orders[keys] = order
        row, sizes = order  # every item length is its value's length plus its size: added as one big integer
        if int.from_bytes(b"".join(groups[1:-2:4])) != int.from_bytes(lengths) + sizes:  # (no byte carries: < 169)
            return None
        size, step_size, step = groups[0], groups[-2], groups[-1]
        declared = (size[0] & 0x7F) | size[1] << 7 if len(size) == 2 else _varint(size)  # mostly two bytes
        if declared != len(payload) - match.end(1) or (step_size is not None and step_size[0] != len(step)):
            return None
        try:
            numbers: dict[str, Any] = orjson.loads(row % values)  # the row as one JSON object
        except orjson.JSONDecodeError:
            return None
        self._hits += 1
        return numbers

    def _order(self, keys: tuple[bytes, ...]) -> tuple[bytes, int] | None:
        """For ``keys`` (length byte and bytes, as a record holds them): the row as a JSON object whose values
        are ``%s`` (``{"a":%s,"b":%s}``), and their items' sizes less their values' (one byte each, read as a
        big-endian integer); None when one is not known."""
        try:
            names = [orjson.dumps(self._names[key]).replace(b"%", b"%%") for key in keys]
            return b"{" + b",".join(name + b":%s" for name in names) + b"}", int.from_bytes(
                bytes(map(self._sizes.__getitem__, keys)))
        except KeyError:
            return None

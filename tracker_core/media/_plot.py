"""``Plot``: a Vega-Lite spec and its data rows, stored as one JSON file for the UI to render.

The file is ``{"spec": {...}, "data": [{...}, ...] or null}``. The spec is stored as given
(it must be plain JSON: no NaN or infinities); the data rows are tagged as in
``tracker_core._values.encode_tree``, so NaN, ±Inf and big integers round-trip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson

from tracker_core._values import Problem, _Rejected, decode_tree, encode_tree, to_tree
from tracker_core.media._base import EncodedMedia, Media, describe, file_fields, load_json, make_file
from tracker_core.media._errors import MediaError

__all__ = ["Plot", "decode_plot"]

SPEC = "a Vega-Lite spec: a dict, or a str holding a JSON object, of plain JSON values"
DATA = "None, or a list of mappings (one per data row) of JSON-compatible values"


def _plain(value: object, what: str, accepted: str) -> Any:
    problems: list[Problem] = []
    try:
        tree = to_tree(value, problems)
    except _Rejected as rejected:
        raise MediaError(what, rejected.reason, accepted) from None
    if problems:
        key, bad, reason = problems[0]
        raise MediaError(what, f"{reason} at {key!r} ({describe(bad)})", accepted)
    return tree


def _has_special_number(tree: object) -> bool:
    if isinstance(tree, dict):
        return any(_has_special_number(item) for item in tree.values())
    if isinstance(tree, list):
        return any(_has_special_number(item) for item in tree)
    return (type(tree) is float and not math.isfinite(tree)) or (type(tree) is int and not -(2**63) <= tree < 2**64)


class Plot(Media):
    """A custom chart: a Vega-Lite spec and optional data rows, stored as a JSON file named by its sha256.

    Args:
        spec: the Vega-Lite spec, a dict or a JSON string holding an object.
        data: the rows the spec plots (a list of dicts), or None when the spec holds its data.

    Both are copied into plain JSON values here.

    Raises:
        MediaError: invalid JSON, a spec that is not an object or holds NaN/±Inf or values
            JSON cannot hold, or data that is not a list of mappings.
    """

    kind = "plot"

    def __init__(self, spec: Mapping[str, Any] | str, data: list[Mapping[str, Any]] | None = None) -> None:
        if isinstance(spec, (str, bytes)):
            try:
                spec = orjson.loads(spec)
            except orjson.JSONDecodeError as error:
                raise MediaError("Plot spec", f"invalid JSON ({error})", SPEC) from None
        if not isinstance(spec, Mapping):
            raise MediaError("Plot spec", describe(spec), SPEC)
        self.spec: dict[str, Any] = _plain(spec, "Plot spec", SPEC)
        if _has_special_number(self.spec):
            raise MediaError("Plot spec", "NaN, an infinity or an integer beyond 64 bits", SPEC,
                             "put such values in data=, where they are tagged")
        self.data: list[dict[str, Any]] | None = None
        if data is not None:
            if not isinstance(data, (list, tuple)) or not all(isinstance(row, Mapping) for row in data):
                raise MediaError("Plot data", describe(data), DATA)
            self.data = _plain(list(data), "Plot data", DATA)
        try:
            self._document = orjson.dumps({"spec": self.spec, "data": encode_tree(self.data)})
        except TypeError as error:  # orjson.JSONEncodeError: e.g. a key that is not a str
            raise MediaError("Plot", f"a value JSON cannot hold ({error})", f"spec: {SPEC}; data: {DATA}") from None

    def encode(self) -> EncodedMedia:
        """The JSON file and the fields title (the spec's), nrows, file, sha256, size."""
        main = make_file(self._document, "json")
        fields = {"title": self.spec.get("title"), "nrows": len(self.data or ())}
        return EncodedMedia(self.kind, {**fields, **file_fields(main)}, (main,))

    def __repr__(self) -> str:
        return f"Plot(title={self.spec.get('title')!r}, nrows={len(self.data or ())})"


def decode_plot(file_bytes: bytes) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """``(spec, data)`` from a stored plot file, data untagged.

    Raises:
        MediaError: the bytes are not a plot file.
    """
    accepted = 'a JSON object {"spec": {...}, "data": [...] or null}'
    document = load_json(file_bytes, "plot file", accepted)
    if not isinstance(document, dict) or not isinstance(document.get("spec"), dict):
        raise MediaError("plot file", describe(document), accepted)
    return document["spec"], decode_tree(document.get("data"))  # type: ignore[return-value]

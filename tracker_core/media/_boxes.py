"""``BoundingBoxes2D``: W&B's 2-D bounding boxes, drawn over an Image.

``BoundingBoxes2D({"box_data": [box, ...], "class_labels": {id: name}}, key)``, as in wandb; an
Image's ``boxes=`` takes these or the same dicts. A box is ``{"position": {"minX", "maxX", "minY",
"maxY"} or {"middle": [x, y], "width", "height"}, "domain": None (fractions of the image) or
"pixel", "class_id": int, "scores": {name: number}, "box_caption": str}``; only ``position`` is
required. Stored as JSON ``<sha256>.boxes2D.json``: ``{"box_data": [...], "class_labels": {...}}``.

W&B raises for the whole image when one box is malformed; here that box is left out (with a
warning naming it, when logged) and the others are stored. Without ``class_labels``, the ids of
the boxes get W&B's names ``class_<id>``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import orjson

from tracker_core._values import encode_tree
from tracker_core.media._base import EncodedMedia, Media, MediaFile, describe, file_fields, make_file
from tracker_core.media._classes import class_labels, default_labels, json_labels
from tracker_core.media._errors import MediaError

__all__ = ["BOXES", "BoundingBoxes2D"]

BOXES = ('{"box_data": [{"position": {"minX", "maxX", "minY", "maxY"} or {"middle": [x, y], "width", "height"}, '
         '"class_id": int, "scores": {str: number}, "box_caption": str, "domain": None or "pixel"}, ...], '
         '"class_labels": {int id: str name}}')
_POSITION = '{"minX", "maxX", "minY", "maxY"} or {"middle": [x, y], "width", "height"} of numbers'


def _number(value: object, what: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise MediaError(what, describe(value), "a number")
    number = value.item() if hasattr(value, "item") else value
    if isinstance(number, float) and not math.isfinite(number):
        raise MediaError(what, repr(number), "a finite number")
    return number  # type: ignore[return-value]


def _position(position: object, what: str) -> dict[str, Any]:
    if not isinstance(position, Mapping):
        raise MediaError(what, describe(position), _POSITION)
    if "middle" in position:
        middle = position["middle"]
        if not isinstance(middle, (list, tuple)) or len(middle) != 2:
            raise MediaError(f"{what} middle", describe(middle), "[x, y]")
        if "width" not in position or "height" not in position:
            raise MediaError(what, f"the keys {sorted(map(str, position))}", _POSITION)
        return {"middle": [_number(v, f"{what} middle") for v in middle],
                "width": _number(position["width"], f"{what} width"),
                "height": _number(position["height"], f"{what} height")}
    if all(name in position for name in ("minX", "maxX", "minY", "maxY")):
        return {name: _number(position[name], f"{what} {name}") for name in ("minX", "maxX", "minY", "maxY")}
    raise MediaError(what, f"the keys {sorted(map(str, position))}", _POSITION)


def _box(box: object, what: str) -> dict[str, Any]:
    """A box as stored (numpy numbers made plain). Raises MediaError: a malformed box (``what`` names it)."""
    if not isinstance(box, Mapping) or "position" not in box:
        raise MediaError(what, describe(box), "a dict with 'position' (and class_id, scores, box_caption, domain)")
    out: dict[str, Any] = {"position": _position(box["position"], f"{what} position")}
    if "class_id" in box:
        class_id = box["class_id"]
        if isinstance(class_id, bool) or not isinstance(class_id, numbers.Integral):
            raise MediaError(f"{what} class_id", describe(class_id), "an int")
        out["class_id"] = int(class_id)
    if "scores" in box:
        scores = box["scores"]
        if not isinstance(scores, Mapping) or not all(isinstance(k, str) for k in scores):
            raise MediaError(f"{what} scores", describe(scores), "a dict of str -> number")
        out["scores"] = {name: _number(score, f"{what} score {name!r}") for name, score in scores.items()}
    if "box_caption" in box:
        if not isinstance(box["box_caption"], str):
            raise MediaError(f"{what} box_caption", describe(box["box_caption"]), "a str")
        out["box_caption"] = box["box_caption"]
    if box.get("domain") is not None:
        if box["domain"] != "pixel":
            raise MediaError(f"{what} domain", describe(box["domain"]), "None (fractions of the image) or 'pixel'")
        out["domain"] = "pixel"
    return out


class BoundingBoxes2D(Media):
    """A layer of bounding boxes (W&B's ``BoundingBoxes2D``), for an Image's ``boxes={key: ...}``.

    Args:
        val: ``{"box_data": [box, ...], "class_labels": {int id: str name}}`` (see the module).
        key: the layer's name ("predictions", "ground_truth", ...); an Image's ``boxes=`` dict key
            names the layer there.

    ``left_out`` lists the boxes that were malformed, as ``(f"box {index}", reason)``; they are not
    stored and the others are. Logged by itself it is stored as a record of kind ``boxes2D``.

    Raises (from ``validate()``, ``encode()`` or where it is used, never here):
        MediaError: no ``box_data`` list, or bad ``class_labels``.
    """

    kind = "boxes2D"

    def __init__(self, val: Mapping[str, Any], key: str = "boxes") -> None:
        self.key = key
        self.box_data: list[dict[str, Any]] = []
        self.class_labels: dict[int, str] = {}
        self.left_out: list[tuple[str, str]] = []
        what = f"Image boxes {key!r}"
        if not isinstance(val, Mapping):
            raise MediaError(what, describe(val), BOXES)
        data = val.get("box_data")
        if not isinstance(data, (list, tuple)):
            raise MediaError(f"{what} box_data", "no list" if data is None else describe(data), "a list of box dicts")
        for index, box in enumerate(data):
            try:
                self.box_data.append(_box(box, f"{what} box {index}"))
            except MediaError as error:
                self.left_out.append((f"box {index}", str(error)))
        self.class_labels = (class_labels(val["class_labels"], what) if "class_labels" in val
                             else default_labels(box["class_id"] for box in self.box_data if "class_id" in box))

    def layer(self) -> tuple[dict[str, Any], MediaFile]:
        """The layer's record fields (file, sha256, size, class_labels, count) and its JSON file.

        Raises:
            MediaError: the layer was built from bad input.
        """
        self.validate()
        labels = json_labels(self.class_labels)
        document = {"box_data": encode_tree(self.box_data), "class_labels": labels}
        main = make_file(orjson.dumps(document, option=orjson.OPT_SORT_KEYS), "boxes2D.json")
        return {**file_fields(main), "class_labels": labels, "count": len(self.box_data)}, main

    def encode(self) -> EncodedMedia:
        """The JSON file and the fields file, sha256, size, class_labels, count; malformed boxes in ``left_out``."""
        fields, main = self.layer()
        return EncodedMedia(self.kind, fields, (main,), left_out=tuple(self.left_out))

    def __repr__(self) -> str:
        return f"BoundingBoxes2D(key={self.key!r}, boxes={len(self.box_data)})"

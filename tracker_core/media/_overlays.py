"""Masks and bounding boxes drawn over an Image, in W&B's ``masks=`` / ``boxes=`` structure.

Each keyword maps a layer name ("predictions", "ground_truth", ...) to a dict, as in wandb:

- a mask: ``{"mask_data": 2-D integer array of class ids 0..255, "class_labels": {id: name}}``,
  or ``{"path": "<a PNG file>"}``; stored as a grayscale PNG ``<sha256>.mask.png``, one class
  id per pixel (W&B's ``ImageMask``).
- boxes: ``{"box_data": [{"position": {"minX", "maxX", "minY", "maxY"} or {"middle": [x, y],
  "width", "height"}, "domain": None or "pixel", "class_id": int, "scores": {name: number},
  "box_caption": str}, ...], "class_labels": {id: name}}``; stored as JSON
  ``<sha256>.boxes2D.json`` holding ``{"box_data": [...], "class_labels": {...}}``
  (W&B's ``BoundingBoxes2D``).

Without ``class_labels``, the ids present get W&B's default names ``class_<id>``. In the record,
each layer is ``{"file", "sha256", "size", "class_labels"}`` (class ids as strings, JSON keys),
its file beside the image's own.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping
from typing import Any

import orjson

from tracker_core._values import encode_tree
from tracker_core.media._base import MediaFile, describe, file_fields, make_file, require, to_array
from tracker_core.media._errors import MediaError
from tracker_core.media._png import encode_png

__all__ = ["encode_boxes", "encode_masks", "merge_classes"]

MASK = ('{"mask_data": a 2-D integer array of class ids 0..255, "class_labels": {int id: str name}} '
        'or {"path": "<a PNG file>"}')
BOXES = ('{"box_data": [{"position": {"minX", "maxX", "minY", "maxY"} or {"middle": [x, y], "width", "height"}, '
         '"class_id": int, "scores": {str: number}, "box_caption": str, "domain": None or "pixel"}, ...], '
         '"class_labels": {int id: str name}}')
Layer = tuple[str, dict[str, Any], MediaFile]


def _layers(value: object, what: str, accepted: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MediaError(what, describe(value), f"a dict of layer name -> {accepted}")
    for key, layer in value.items():
        if not isinstance(key, str) or not key:
            raise MediaError(what, f"the layer name {key!r}", "non-empty str layer names")
        if not isinstance(layer, Mapping):
            raise MediaError(f"{what} {key!r}", describe(layer), accepted)
    return value


def _class_labels(labels: object, what: str) -> dict[int, str]:
    accepted = "a dict of int class id -> str name"
    if not isinstance(labels, Mapping):
        raise MediaError(f"{what} class_labels", describe(labels), accepted)
    out: dict[int, str] = {}
    for key, name in labels.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral) or not isinstance(name, str):
            raise MediaError(f"{what} class_labels", f"{key!r}: {name!r}", accepted)
        out[int(key)] = name
    return out


def _default_labels(ids: list[int]) -> dict[int, str]:
    return {i: f"class_{i}" for i in sorted(set(ids))}


def _json_labels(labels: dict[int, str]) -> dict[str, str]:
    return {str(key): name for key, name in sorted(labels.items())}


def _mask_png(layer: Mapping[str, Any], what: str) -> tuple[bytes, list[int]]:
    if "path" in layer:
        path = layer["path"]
        if not isinstance(path, (str, os.PathLike)):
            raise MediaError(f"{what} path", describe(path), "a str or os.PathLike naming a PNG file")
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise MediaError(f"{what} path", f"{os.fspath(path)!r} ({error.strerror})", "a readable PNG file") from None
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            raise MediaError(f"{what} path", f"{os.fspath(path)!r}, not a PNG file", "a PNG mask file")
        return data, []
    if "mask_data" not in layer:
        raise MediaError(what, "no 'mask_data' (and no 'path')", MASK)
    np = require("numpy", what, "numpy")
    mask = to_array(layer["mask_data"], f"{what} mask_data", MASK)
    if mask.ndim != 2 or 0 in mask.shape:
        raise MediaError(f"{what} mask_data", describe(mask), MASK, "mask_data must be a non-empty 2-D array")
    if mask.dtype.kind not in "biuf":
        raise MediaError(f"{what} mask_data", describe(mask), MASK)
    if mask.dtype.kind == "f" and not np.isfinite(mask).all():
        raise MediaError(f"{what} mask_data", f"{describe(mask)} with NaN or infinite values", MASK)
    if mask.min() < 0 or mask.max() > 255:
        raise MediaError(f"{what} mask_data", f"{describe(mask)} with values in [{mask.min()}, {mask.max()}]",
                         MASK, "class ids must be integers between 0 and 255")
    pixels = np.ascontiguousarray(mask.astype(np.uint8))  # floats truncated, as wandb's astype does
    height, width = pixels.shape
    return encode_png(pixels.tobytes(), width, height, 1), [int(v) for v in np.unique(pixels)]


def encode_masks(masks: object) -> list[Layer]:
    """One PNG per mask layer, with its record fields. Raises MediaError: a bad layer (named)."""
    layers = []
    for key, layer in _layers(masks, "Image masks", MASK).items():
        what = f"Image mask {key!r}"
        png, ids = _mask_png(layer, what)
        labels = (_class_labels(layer["class_labels"], what) if "class_labels" in layer
                  else _default_labels(ids))
        main = make_file(png, "mask.png")
        layers.append((key, {**file_fields(main), "class_labels": _json_labels(labels)}, main))
    return layers


def _number(value: object, what: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise MediaError(what, describe(value), "a number")
    number = value.item() if hasattr(value, "item") else value
    if isinstance(number, float) and not math.isfinite(number):
        raise MediaError(what, repr(number), "a finite number")
    return number  # type: ignore[return-value]


def _position(position: object, what: str) -> dict[str, Any]:
    accepted = '{"minX", "maxX", "minY", "maxY"} or {"middle": [x, y], "width", "height"} of numbers'
    if not isinstance(position, Mapping):
        raise MediaError(what, describe(position), accepted)
    if "middle" in position:
        middle = position["middle"]
        if not isinstance(middle, (list, tuple)) or len(middle) != 2:
            raise MediaError(f"{what} middle", describe(middle), "[x, y]")
        return {"middle": [_number(v, f"{what} middle") for v in middle],
                "width": _number(position.get("width"), f"{what} width"),
                "height": _number(position.get("height"), f"{what} height")}
    if all(name in position for name in ("minX", "maxX", "minY", "maxY")):
        return {name: _number(position[name], f"{what} {name}") for name in ("minX", "maxX", "minY", "maxY")}
    raise MediaError(what, f"the keys {sorted(map(str, position))}", accepted)


def _box(box: object, what: str) -> dict[str, Any]:
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
        out["scores"] = {}
        for name, score in scores.items():
            if isinstance(score, bool) or not isinstance(score, numbers.Real):
                raise MediaError(f"{what} score {name!r}", describe(score), "a number")
            out["scores"][name] = score.item() if hasattr(score, "item") else score
    if "box_caption" in box:
        if not isinstance(box["box_caption"], str):
            raise MediaError(f"{what} box_caption", describe(box["box_caption"]), "a str")
        out["box_caption"] = box["box_caption"]
    if box.get("domain") is not None:
        if box["domain"] != "pixel":
            raise MediaError(f"{what} domain", describe(box["domain"]), "None (fractions of the image) or 'pixel'")
        out["domain"] = "pixel"
    return out


def encode_boxes(boxes: object) -> list[Layer]:
    """One JSON file per box layer, with its record fields. Raises MediaError: a bad layer or box (named)."""
    layers = []
    for key, layer in _layers(boxes, "Image boxes", BOXES).items():
        what = f"Image boxes {key!r}"
        data = layer.get("box_data")
        if not isinstance(data, (list, tuple)):
            raise MediaError(f"{what} box_data", describe(data), "a list of box dicts")
        box_data = [_box(box, f"{what} box {index}") for index, box in enumerate(data)]
        labels = (_class_labels(layer["class_labels"], what) if "class_labels" in layer
                  else _default_labels([box["class_id"] for box in box_data if "class_id" in box]))
        document = {"box_data": encode_tree(box_data), "class_labels": _json_labels(labels)}
        main = make_file(orjson.dumps(document, option=orjson.OPT_SORT_KEYS), "boxes2D.json")
        layers.append((key, {**file_fields(main), "class_labels": _json_labels(labels), "count": len(box_data)},
                       main))
    return layers


def merge_classes(classes: object, layers: list[Layer]) -> list[dict[str, Any]]:
    """W&B's image-level class list: every layer's labels, then ``classes=`` ({"id", "name"} dicts) on top."""
    merged: dict[int, str] = {}
    for _key, fields, _file in layers:
        merged.update({int(k): v for k, v in fields["class_labels"].items()})
    if classes is not None:
        items = getattr(classes, "_class_set", classes)  # a wandb-style Classes object, or its list
        if isinstance(items, (str, bytes)) or not isinstance(items, (list, tuple)):
            raise MediaError("Image classes", describe(classes), 'a list of {"id": int, "name": str} dicts')
        for item in items:
            if not isinstance(item, Mapping) or "id" not in item or "name" not in item:
                raise MediaError("Image classes", describe(item), 'a list of {"id": int, "name": str} dicts')
            merged.update(_class_labels({item["id"]: item["name"]}, "Image classes"))
    return [{"id": key, "name": name} for key, name in sorted(merged.items())]

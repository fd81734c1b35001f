"""An Image's overlays: its ``masks=``, ``boxes=`` and ``classes=``, as W&B takes them, part by part.

``masks`` maps a layer name ("predictions", "ground_truth", ...) to an ``ImageMask`` or to the dict
one is built from; ``boxes`` maps a layer name to a ``BoundingBoxes2D`` or its dict; ``classes`` is
a ``Classes`` or its list of ``{"id", "name"}`` dicts (see ``_masks``, ``_boxes``, ``_classes``).

A malformed part costs that part only: a bad mask layer, box layer, single box or class list is
left out and named in ``Overlays.left_out`` (``"masks 'predictions'"``, ``"boxes 'gt' box 2"``,
``"classes"``) with the reason, and the image keeps the rest. In the image's record each layer
is ``{"file", "sha256", "size", "class_labels"}`` (boxes add ``count``), its file beside the
image's own, and ``classes`` is the merged class list: every layer's labels (a default ``class_<id>``
never replacing a name given for that id), then ``classes=`` on top.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tracker_core.media._base import MediaFile, describe
from tracker_core.media._boxes import BOXES, BoundingBoxes2D
from tracker_core.media._classes import read_class_set
from tracker_core.media._errors import MediaError
from tracker_core.media._masks import MASK, ImageMask

__all__ = ["Layer", "Overlays", "build_overlays"]

Layer = tuple[str, dict[str, Any], MediaFile]


@dataclass
class Overlays:
    """The layers that could be stored, the merged class list, and what was left out, ``(part, reason)``."""

    masks: list[Layer] = field(default_factory=list)
    boxes: list[Layer] = field(default_factory=list)
    classes: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)


def _layers(value: object, name: str, accepted: str, left_out: list[tuple[str, str]]) -> list[tuple[str, Any]]:
    """The (layer name, layer) pairs of ``masks=`` / ``boxes=``; a bad whole or a bad name is left out."""
    if not isinstance(value, Mapping):
        error = MediaError(f"Image {name}", describe(value), f"a dict of layer name -> {accepted}")
        left_out.append((name, str(error)))
        return []
    pairs = []
    for key, layer in value.items():
        if isinstance(key, str) and key:
            pairs.append((key, layer))
        else:
            left_out.append((f"{name} {key!r}", str(MediaError(f"Image {name}", f"the layer name {key!r}",
                                                               "non-empty str layer names"))))
    return pairs


def build_overlays(masks: object, boxes: object, classes: object) -> Overlays:
    """The overlays of an Image built with these keywords (each may be None). Never raises MediaError."""
    out = Overlays()
    for key, layer in _layers(masks, "masks", MASK, out.left_out) if masks else ():
        mask = layer if isinstance(layer, ImageMask) else ImageMask(layer, key)
        try:
            fields, main = mask.layer()
        except MediaError as error:
            out.left_out.append((f"masks {key!r}", str(error)))
            continue
        out.masks.append((key, fields, main))
    for key, layer in _layers(boxes, "boxes", BOXES, out.left_out) if boxes else ():
        box_layer = layer if isinstance(layer, BoundingBoxes2D) else BoundingBoxes2D(layer, key)
        try:
            fields, main = box_layer.layer()
        except MediaError as error:
            out.left_out.append((f"boxes {key!r}", str(error)))
            continue
        out.boxes.append((key, fields, main))
        out.left_out.extend((f"boxes {key!r} {part}", reason) for part, reason in box_layer.left_out)
    merged: dict[int, str] = {}
    for _key, fields, _file in out.masks + out.boxes:
        for text, name in fields["class_labels"].items():
            if int(text) not in merged or name != f"class_{text}":  # a default name never hides a given one
                merged[int(text)] = name
    if classes is not None:
        try:
            merged.update(read_class_set(classes, "Image classes"))
        except MediaError as error:
            out.left_out.append(("classes", str(error)))
    out.classes = [{"id": key, "name": name} for key, name in sorted(merged.items())]
    return out

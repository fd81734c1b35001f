"""``ImageMask``: W&B's segmentation mask, one class id per pixel, drawn over an Image.

``ImageMask({"mask_data": 2-D integer array of class ids 0..255, "class_labels": {id: name}}, key)``
or ``ImageMask({"path": "<a PNG file>"}, key)``, as in wandb; an Image's ``masks=`` takes these
or the same dicts. Stored as a grayscale PNG ``<sha256>.mask.png``, the class id as the pixel
value. Without ``class_labels``, the ids present get W&B's names ``class_<id>`` (a PNG given by
path is read with Pillow, when installed, to find them).
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import Any

from tracker_core.media._base import EncodedMedia, Media, MediaFile, describe, file_fields, make_file, require, to_array
from tracker_core.media._classes import class_labels, default_labels, json_labels
from tracker_core.media._errors import MediaError
from tracker_core.media._png import encode_png

__all__ = ["MASK", "ImageMask"]

MASK = ('{"mask_data": a 2-D integer array of class ids 0..255, "class_labels": {int id: str name}} '
        'or {"path": "<a PNG file>"}')
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_ids(data: bytes) -> list[int]:
    """The class ids (pixel values) of a mask PNG; none when Pillow is missing or cannot read it."""
    try:
        pil = require("PIL.Image", "ImageMask path", "pillow")
        np = require("numpy", "ImageMask path", "numpy")
        with pil.open(io.BytesIO(data)) as opened:
            return [int(v) for v in np.unique(np.asarray(opened.convert("L")))]
    except (MediaError, OSError, ValueError):
        return []


def _read_png(path: object, what: str) -> bytes:
    if not isinstance(path, (str, os.PathLike)):
        raise MediaError(f"{what} path", describe(path), "a str or os.PathLike naming a PNG file")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise MediaError(f"{what} path", f"{os.fspath(path)!r} ({error.strerror})", "a readable PNG file") from None
    if not data.startswith(_PNG_SIGNATURE):
        raise MediaError(f"{what} path", f"{os.fspath(path)!r}, not a PNG file", "a PNG mask file")
    return data


def _mask_png(mask_data: object, what: str) -> tuple[bytes, list[int]]:
    np = require("numpy", what, "numpy")
    mask = to_array(mask_data, f"{what} mask_data", MASK)
    if mask.ndim != 2 or 0 in mask.shape:
        raise MediaError(f"{what} mask_data", describe(mask), MASK, "mask_data must be a non-empty 2-D array")
    if mask.dtype.kind not in "biuf":
        raise MediaError(f"{what} mask_data", describe(mask), MASK)
    if mask.dtype.kind == "f" and not np.isfinite(mask).all():
        raise MediaError(f"{what} mask_data", f"{describe(mask)} with NaN or infinite values", MASK)
    low, high = mask.min(), mask.max()
    if low < 0 or high > 255:
        raise MediaError(f"{what} mask_data", f"{describe(mask)} with values in [{low}, {high}]",
                         MASK, "class ids must be integers between 0 and 255")
    pixels = np.ascontiguousarray(mask.astype(np.uint8))  # floats truncated, as wandb's astype does
    height, width = pixels.shape
    return encode_png(pixels.tobytes(), width, height, 1), [int(v) for v in np.unique(pixels)]


class ImageMask(Media):
    """A segmentation mask layer (W&B's ``ImageMask``), for an Image's ``masks={key: ImageMask(...)}``.

    Args:
        val: ``{"mask_data": array, "class_labels": {id: name}}`` (numpy array or torch tensor, 2-D,
            integer class ids 0..255; floats are truncated) or ``{"path": "<a PNG file>"}`` (read now,
            stored byte for byte), with optional ``class_labels``.
        key: the layer's name ("predictions", "ground_truth", ...); an Image's ``masks=`` dict key
            names the layer there.

    Logged by itself it is stored as a record of kind ``mask`` with its PNG file.

    Raises (from ``validate()``, ``encode()`` or where it is used, never here):
        MediaError: neither ``mask_data`` nor ``path``, a mask that is not 2-D or has ids outside
            0..255, a file that is not a readable PNG, or bad ``class_labels``.
    """

    kind = "mask"

    def __init__(self, val: Mapping[str, Any], key: str = "mask") -> None:
        self.key = key
        self.class_labels: dict[int, str] = {}
        self._png = b""
        what = f"Image mask {key!r}"
        if not isinstance(val, Mapping):
            raise MediaError(what, describe(val), MASK)
        if "path" in val:
            self._png = _read_png(val["path"], what)
            ids = _png_ids(self._png) if "class_labels" not in val else []
        elif "mask_data" in val:
            self._png, ids = _mask_png(val["mask_data"], what)
        else:
            raise MediaError(what, "no 'mask_data' (and no 'path')", MASK)
        self.class_labels = class_labels(val["class_labels"], what) if "class_labels" in val else default_labels(ids)

    def layer(self) -> tuple[dict[str, Any], MediaFile]:
        """The layer's record fields (file, sha256, size, class_labels) and its PNG file.

        Raises:
            MediaError: the mask was built from bad input.
        """
        self.validate()
        main = make_file(self._png, "mask.png")
        return {**file_fields(main), "class_labels": json_labels(self.class_labels)}, main

    def encode(self) -> EncodedMedia:
        """The PNG file and the fields file, sha256, size, class_labels."""
        fields, main = self.layer()
        return EncodedMedia(self.kind, fields, (main,))

    def __repr__(self) -> str:
        return f"ImageMask(key={self.key!r}, class_labels={self.class_labels})"

"""``Image``: arrays, tensors, PIL images, image files and matplotlib charts, with W&B's masks and boxes.

Stored as PNG, except an image file that already is PNG or JPEG, whose bytes are kept as given
(``<sha256>.png`` / ``<sha256>.jpg``); files of other formats (BMP, TIFF, GIF, WebP, ...) are
re-encoded to PNG losslessly (the first frame of an animation). Array values follow W&B's rules
(``tracker_core.media._pixels.image_to_uint8``).
"""

from __future__ import annotations

import io
import os
import sys
from types import ModuleType
from typing import Any

from tracker_core.media._base import (
    EncodedMedia,
    Media,
    MediaFile,
    check_caption,
    describe,
    file_fields,
    loaded_instance,
    make_file,
    require,
    to_array,
)
from tracker_core.media._errors import MediaError
from tracker_core.media._overlays import Overlays, build_overlays
from tracker_core.media._pixels import image_to_uint8
from tracker_core.media._png import encode_png, png_header

__all__ = ["Image"]

ACCEPTED = ("a numpy array or torch tensor of any integer, bool or float dtype shaped HW, HWC or CHW with "
            "1, 3 or 4 channels; a PIL image; the path of an image file; a matplotlib Figure (or the "
            "matplotlib.pyplot module, for its current figure)")
_MODES = {"L": 1, "RGB": 3, "RGBA": 4}
_KEPT_FORMATS = {"PNG": "png", "JPEG": "jpg"}
_FILE_TYPES = ("png", "jpg", "jpeg", "bmp")
_NONE = Overlays()  # the overlays of an image without masks, boxes or classes (shared, never changed)


def _figure_of(data: Any) -> tuple[Any, bool] | None:
    """(the Figure to render, whether to close it after) for matplotlib input; None otherwise.

    A Figure given directly is closed after rendering; the current figure of ``pyplot`` (for
    ``Image(plt)``) and the figure of an Axes or other artist stay open: they are the caller's.
    """
    if type(data) is ModuleType:
        return (data.gcf(), False) if getattr(data, "__name__", "") == "matplotlib.pyplot" else None
    if loaded_instance(data, "matplotlib.figure", "Figure"):
        return data, True
    if (type(data).__module__ or "").startswith("matplotlib.") and loaded_instance(
            getattr(data, "figure", None), "matplotlib.figure", "Figure"):
        return data.figure, False
    return None


def _render_figure(figure: Any, close: bool) -> bytes:
    """The figure rendered to PNG; closed afterwards when ``close`` (pyplot then keeps no reference)."""
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", metadata={"Software": None})
    except (ValueError, RuntimeError, OSError) as error:
        raise MediaError("Image figure", f"a figure that failed to render ({error})", ACCEPTED) from error
    finally:
        pyplot = sys.modules.get("matplotlib.pyplot")  # a figure pyplot never saw needs no closing
        if close and pyplot is not None:
            pyplot.close(figure)
    return buffer.getvalue()


def _pil_pixels(image: Any, mode: str | None) -> tuple[bytes, int, int, int]:
    if mode is None:
        if image.mode in _MODES:
            mode = image.mode
        elif "A" in image.mode or "transparency" in image.info:
            mode = "RGBA"
        elif image.mode in ("1", "I", "I;16", "F"):
            mode = "L"
        else:
            mode = "RGB"
    try:
        converted = image if image.mode == mode else image.convert(mode)
    except (ValueError, OSError) as error:  # a mode Pillow cannot convert
        raise MediaError("Image data", f"a PIL image of mode {image.mode!r} ({error})", ACCEPTED) from None
    width, height = converted.size
    if width == 0 or height == 0:
        raise MediaError("Image data", "an empty PIL image", ACCEPTED)
    return converted.tobytes(), width, height, _MODES[mode]


def _read_file(path: str) -> tuple[bytes, str, int, int, int]:
    """(file bytes to store, extension, width, height, channels) for an image file.

    Raises:
        MediaError: the file cannot be read, is not an image Pillow reads, or Pillow is missing.
    """
    if "://" in path:
        raise MediaError("Image path", repr(path), "the path of a local image file",
                         "download the file first; references to remote images are not stored in runs")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise MediaError("Image path", f"{path!r} ({error.strerror})", "a readable image file") from None
    pil = require("PIL.Image", "Image path", "pillow")
    try:
        with pil.open(io.BytesIO(data)) as opened:
            opened.load()
            kept = _KEPT_FORMATS.get(opened.format or "")
            if kept is not None:
                width, height = opened.size
                return data, kept, width, height, len(opened.getbands())
            pixels, width, height, channels = _pil_pixels(opened, None)
    except (OSError, ValueError, SyntaxError, pil.DecompressionBombError) as error:
        raise MediaError("Image path", f"{path!r}, which Pillow cannot read ({error})", "an image file") from None
    return encode_png(pixels, width, height, channels), "png", width, height, channels


def _torch_array(data: Any) -> Any:
    """A numpy array of a tensor; float16 stays float16 (as wandb computes it), bfloat16 becomes float32."""
    tensor = data.detach().cpu()
    if str(tensor.dtype) == "torch.float16":
        return tensor.numpy()
    return to_array(tensor, "Image data", ACCEPTED)


class Image(Media):
    """An image, stored under its sha256 (PNG, or an image file's own PNG/JPEG bytes).

    Args:
        data_or_path: a numpy array or torch tensor (HW, HWC or CHW with 1, 3 or 4 channels; a numpy
            array is CHW only when the last axis cannot be channels, a torch tensor whenever the
            first axis can be, as wandb assumes), a PIL image, the path of an image file (str or
            os.PathLike), a matplotlib Figure, Axes or the ``matplotlib.pyplot`` module itself.
        mode: "L", "RGB" or "RGBA": the channels an array must have, or the mode a PIL image is
            converted to. Not used with figures and files.
        caption: shown with the image.
        grouping: kept in the record, as wandb does.
        classes: a ``Classes`` or ``[{"id": int, "name": str}, ...]``, the class names of masks and boxes.
        boxes: ``{layer: BoundingBoxes2D(...) or {"box_data": [...], "class_labels": {...}}}``.
        masks: ``{layer: ImageMask(...) or {"mask_data": array, "class_labels": {...}}}``. A malformed
            mask layer, box layer, box or class list is left out (a warning when logged), not the
            image; see ``_overlays``.
        file_type: "png" (the default), "jpg"/"jpeg" (a JPEG written by Pillow) or "bmp" (stored as
            PNG, losslessly); for arrays, tensors, PIL images and figures.
        normalize: rescale array values as W&B does (see the README); False casts them to uint8.

    Side effects: a matplotlib Figure is rendered here, on the caller's thread, and then closed
    with ``pyplot.close`` so that thousands of figures leak nothing (pyplot's current figure, for
    ``Image(plt)``, is left open). Arrays are copied; files are read here.

    Raises:
        MediaError: the data has an unsupported type, shape or dtype, a file cannot be read, or the
            mode is unknown.
    """

    kind = "image"
    _overlays: Overlays = _NONE

    def __init__(self, data_or_path: Any, mode: str | None = None, caption: str | None = None,
                 grouping: int | None = None, classes: Any = None, boxes: Any = None, masks: Any = None,
                 file_type: str | None = None, normalize: bool = True) -> None:
        self.caption = check_caption(caption, "Image")
        if mode is not None and mode not in _MODES:
            raise MediaError("Image mode", describe(mode), "'L', 'RGB', 'RGBA' or None")
        if file_type is not None and file_type not in _FILE_TYPES:
            raise MediaError("Image file_type", describe(file_type), f"None or one of {list(_FILE_TYPES)}")
        self.grouping = grouping
        self._file: tuple[bytes, str] | None = None
        self._pixels = b""
        figure = _figure_of(data_or_path)
        if isinstance(data_or_path, (str, os.PathLike)):
            data, extension, self.width, self.height, self.channels = _read_file(os.fspath(data_or_path))
            self._file = (data, extension)
        elif figure is not None:
            if mode is not None:
                raise MediaError("Image mode", f"{mode!r} with a matplotlib figure", "None with a figure")
            png = _render_figure(*figure)
            self._file = (png, "png")
            self.width, self.height, self.channels = png_header(png)
        elif loaded_instance(data_or_path, "PIL.Image", "Image"):
            self._pixels, self.width, self.height, self.channels = _pil_pixels(data_or_path, mode)
        else:
            torch = loaded_instance(data_or_path, "torch", "Tensor")
            array = _torch_array(data_or_path) if torch else to_array(data_or_path, "Image data", ACCEPTED)
            pixels = image_to_uint8(array, "Image data", ACCEPTED, normalize=normalize, prefer_chw=torch)
            self.height, self.width, self.channels = (int(n) for n in pixels.shape)
            if mode is not None and _MODES[mode] != self.channels:
                raise MediaError("Image data", f"{describe(data_or_path)} ({self.channels} channels) with mode "
                                 f"{mode!r}", f"{_MODES[mode]} channels for mode {mode!r}")
            self._pixels = pixels.tobytes()
        if file_type in ("jpg", "jpeg") and not isinstance(data_or_path, (str, os.PathLike)):  # files keep theirs
            self._file = (self._jpeg(), "jpg")
        if masks or boxes or classes is not None:
            self._overlays = build_overlays(masks, boxes, classes)

    def _jpeg(self) -> bytes:
        """The pixels (or the rendered figure) as a JPEG written by Pillow; alpha is dropped, as wandb does."""
        pil = require("PIL.Image", "Image file_type 'jpg'", "pillow")
        if self._file is not None:
            with pil.open(io.BytesIO(self._file[0])) as opened:
                image = opened.convert("RGB")
        else:
            mode = {1: "L", 3: "RGB", 4: "RGBA"}[self.channels]
            image = pil.frombytes(mode, (self.width, self.height), self._pixels)
            if mode == "RGBA":
                image = image.convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG")
        return buffer.getvalue()

    def to_data_array(self) -> Any:
        """The pixels as a uint8 numpy array, (H, W) or (H, W, C), as W&B's ``Image.to_data_array``.

        Raises:
            MediaError: the image was built from bad input, or numpy (or Pillow, for files) is missing.
        """
        self.validate()
        np = require("numpy", "Image.to_data_array()", "numpy")
        if self._file is None:
            array = np.frombuffer(self._pixels, np.uint8).reshape(self.height, self.width, self.channels)
            return array[..., 0] if self.channels == 1 else array
        pil = require("PIL.Image", "Image.to_data_array()", "pillow")
        with pil.open(io.BytesIO(self._file[0])) as opened:
            return np.asarray(opened)

    def encode(self) -> EncodedMedia:
        """The image file, mask and box files, and the fields caption, width, height, channels, file,
        sha256, size (plus masks, boxes, classes and grouping when given)."""
        data, extension = self._file or (encode_png(self._pixels, self.width, self.height, self.channels), "png")
        main = make_file(data, extension)
        fields: dict[str, Any] = {"caption": self.caption, "width": self.width, "height": self.height,
                                  "channels": self.channels, **file_fields(main)}
        files: list[MediaFile] = [main]
        overlays = self._overlays
        for name, layers in (("masks", overlays.masks), ("boxes", overlays.boxes)):
            if layers:
                fields[name] = {key: layer_fields for key, layer_fields, _ in layers}
                files.extend(layer_file for _, _, layer_file in layers)
        if overlays.classes:
            fields["classes"] = overlays.classes
        if overlays.left_out:
            fields["left_out"] = [part for part, _ in overlays.left_out]
        if self.grouping is not None:
            fields["grouping"] = self.grouping
        return EncodedMedia(self.kind, fields, tuple(files), left_out=tuple(overlays.left_out))

    def __repr__(self) -> str:
        return f"Image({self.width}x{self.height}x{self.channels}, caption={self.caption!r})"

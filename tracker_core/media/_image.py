"""``Image``: numpy arrays, torch tensors, PIL images and matplotlib figures, stored as PNG."""

from __future__ import annotations

import io
import sys
from typing import Any

from tracker_core.media._base import (
    EncodedMedia,
    Media,
    check_caption,
    describe,
    file_fields,
    loaded_instance,
    make_file,
    to_array,
)
from tracker_core.media._errors import MediaError
from tracker_core.media._pixels import to_uint8_channels_last
from tracker_core.media._png import encode_png, png_header

__all__ = ["Image"]

ACCEPTED = ("a numpy array or torch tensor (uint8 0..255, or float in [0, 1]) shaped HW, HWC or CHW with "
            "1, 3 or 4 channels; a PIL image; or a matplotlib Figure")
_MODES = {"L": 1, "RGB": 3, "RGBA": 4}


def _render_figure(figure: Any) -> bytes:
    """The figure rendered to PNG; the figure is then closed (pyplot keeps no reference to it)."""
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", metadata={"Software": None})
    except (ValueError, RuntimeError, OSError) as error:
        raise MediaError("Image figure", f"a figure that failed to render ({error})", ACCEPTED) from error
    finally:
        pyplot = sys.modules.get("matplotlib.pyplot")  # a figure pyplot never saw needs no closing
        if pyplot is not None:
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


class Image(Media):
    """An image, stored as a PNG file named by its sha256.

    Args:
        data: a numpy array or torch tensor (uint8 0..255 or float in [0, 1]; HW, HWC or CHW
            with 1, 3 or 4 channels; CHW when the first axis is 1, 3 or 4 and the last is not),
            a PIL image, or a matplotlib Figure.
        caption: shown with the image.
        mode: "L", "RGB" or "RGBA": the channels an array must have, or the mode a PIL image
            is converted to. Not used with figures.

    Side effects: a matplotlib Figure is rendered here, on the caller's thread, and then
    closed with ``pyplot.close`` so that thousands of figures leak nothing. Arrays are copied.

    Raises:
        MediaError: the data has an unsupported type, shape, dtype or value range, or the mode is unknown.
    """

    kind = "image"

    def __init__(self, data: Any, caption: str | None = None, mode: str | None = None) -> None:
        self.caption = check_caption(caption, "Image")
        if mode is not None and mode not in _MODES:
            raise MediaError("Image mode", describe(mode), "'L', 'RGB', 'RGBA' or None")
        self._png: bytes | None = None
        self._pixels = b""
        if loaded_instance(data, "matplotlib.figure", "Figure"):
            if mode is not None:
                raise MediaError("Image mode", f"{mode!r} with a matplotlib Figure", "None with a Figure")
            self._png = _render_figure(data)
            self.width, self.height, self.channels = png_header(self._png)
        elif loaded_instance(data, "PIL.Image", "Image"):
            self._pixels, self.width, self.height, self.channels = _pil_pixels(data, mode)
        else:
            pixels = to_uint8_channels_last(to_array(data, "Image data", ACCEPTED), 0, "Image data", ACCEPTED)
            self.height, self.width, self.channels = (int(n) for n in pixels.shape)
            if mode is not None and _MODES[mode] != self.channels:
                raise MediaError("Image data", f"{describe(data)} ({self.channels} channels) with mode {mode!r}",
                                 f"{_MODES[mode]} channels for mode {mode!r}")
            self._pixels = pixels.tobytes()

    def encode(self) -> EncodedMedia:
        """The PNG file and the fields caption, width, height, channels, file, sha256, size."""
        png = self._png or encode_png(self._pixels, self.width, self.height, self.channels)
        main = make_file(png, "png")
        fields = {"caption": self.caption, "width": self.width, "height": self.height, "channels": self.channels}
        return EncodedMedia(self.kind, {**fields, **file_fields(main)}, (main,))

    def __repr__(self) -> str:
        return f"Image({self.width}x{self.height}x{self.channels}, caption={self.caption!r})"

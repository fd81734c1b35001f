"""``Video``: frames as an array, stored as an animated GIF (written with Pillow), or a video file given by
its path (gif, mp4, webm, ogg), stored as it is.

The only format produced is GIF: it needs nothing beyond Pillow, and every browser plays it.
GIF keeps at most 256 colours per frame (RGB frames are quantized), has no partial
transparency (an alpha channel is dropped), and stores frame delays in 1/100 s; identical
consecutive frames are merged by the writer, their delays added, so playback timing is kept.
"""

from __future__ import annotations

import importlib.util
import io
from typing import Any

from tracker_core.media._base import (
    EncodedMedia,
    Media,
    check_caption,
    describe,
    file_fields,
    is_path,
    make_file,
    positive_number,
    read_media_file,
    to_array,
)
from tracker_core.media._errors import MediaError
from tracker_core.media._pixels import to_uint8_channels_last

__all__ = ["Video"]

ACCEPTED = ("a numpy array or torch tensor of frames shaped (T, H, W, C), (T, C, H, W) or (T, H, W) with C in "
            "1, 3, 4; uint8 0..255 or float in [0, 1]")
FORMATS = ("gif",)
FILE_FORMATS = ("gif", "mp4", "webm", "ogg")


class Video(Media):
    """A clip of frames, stored as an animated GIF named by its sha256 (see the module docstring).

    Args:
        frames: ``(T, H, W, C)``, ``(T, C, H, W)`` or ``(T, H, W)``, T >= 1; uint8 or float in [0, 1]; or a
            path to a gif, mp4, webm or ogg file, stored as it is.
        fps: frames per second, a positive number.
        caption: shown with the clip.
        format: "gif" or None (GIF).

    Raises:
        MediaError: unsupported frames, fps or format, or Pillow is not installed.
    """

    kind = "video"

    def __init__(self, frames: Any, fps: float = 4, caption: str | None = None, format: str | None = None) -> None:  # noqa: A002
        self.caption = check_caption(caption, "Video")
        self.fps = positive_number(fps, "Video fps", "a positive number of frames per second", integer=False)
        self._file: tuple[bytes, str] | None = None
        if is_path(frames):  # a file, as W&B takes it: stored as it is, its format from its extension
            self._file = read_media_file(frames, "Video file", FILE_FORMATS)
            self.format = self._file[1]
            self.frames = self.height = self.width = self.channels = 0
            return
        if format is not None and format not in FORMATS:
            raise MediaError("Video format", describe(format), f"None or one of {list(FORMATS)}",
                             "this environment writes animated GIF only")
        self.format = "gif"
        if importlib.util.find_spec("PIL") is None:
            raise MediaError("Video", "no Pillow installed", "an environment with Pillow",
                             "pip install pillow (Video is written as an animated GIF)")
        array = to_array(frames, "Video frames", ACCEPTED)
        if array.ndim not in (3, 4) or array.shape[0] == 0:
            raise MediaError("Video frames", describe(frames), ACCEPTED)
        self._frames = to_uint8_channels_last(array, 1, "Video frames", ACCEPTED)
        self.frames, self.height, self.width, self.channels = (int(n) for n in self._frames.shape)

    def encode(self) -> EncodedMedia:
        """The GIF file (or the file given) and the fields fps, frames, width, height, format, caption, file,
        sha256, size; a file's frames, width and height are None."""
        if self._file is not None:
            main = make_file(*self._file)
            fields = {"fps": self.fps, "frames": None, "width": None, "height": None, "format": self.format,
                      "caption": self.caption}
            return EncodedMedia(self.kind, {**fields, **file_fields(main)}, (main,))
        from PIL import Image as PILImage

        pixels = self._frames[..., :3] if self.channels == 4 else self._frames
        images = [PILImage.fromarray(frame[..., 0] if self.channels == 1 else frame) for frame in pixels]
        buffer = io.BytesIO()
        images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                       duration=max(10, round(100 / self.fps) * 10), loop=0)  # GIF delays are in 1/100 s
        main = make_file(buffer.getvalue(), "gif")
        fields = {"fps": self.fps, "frames": self.frames, "width": self.width, "height": self.height,
                  "format": self.format, "caption": self.caption}
        return EncodedMedia(self.kind, {**fields, **file_fields(main)}, (main,))

    def __repr__(self) -> str:
        return f"Video({self.frames} frames {self.width}x{self.height}, fps={self.fps:g})"

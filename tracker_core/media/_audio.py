"""``Audio``: a numpy array and a sample rate, stored as 16-bit PCM WAV (standard ``wave`` module), or an
audio file given by its path, stored as it is."""

from __future__ import annotations

import io
import wave
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

__all__ = ["Audio"]

ACCEPTED = ("a numpy array or torch tensor shaped (frames,) for mono or (frames, channels) with 1..32 channels, "
            "float in [-1, 1] or int16")
MAX_CHANNELS = 32
FILE_FORMATS = ("wav", "mp3", "flac", "ogg", "m4a", "aac")


def _to_int16(array: Any, given: str) -> Any:
    import numpy as np

    if array.dtype == np.int16:
        return np.array(array, dtype="<i2", order="C")
    if array.dtype.kind != "f":
        raise MediaError("Audio data", given, ACCEPTED, "pass float samples in [-1, 1] or int16 samples")
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise MediaError("Audio data", f"{given} with NaN or infinite samples", ACCEPTED)
    if values.size and (values.min() < -1.0 or values.max() > 1.0):
        raise MediaError("Audio data", f"{given} with samples in [{values.min():g}, {values.max():g}]",
                         ACCEPTED, "scale float samples to [-1, 1] (out-of-range samples are not clipped)")
    return np.ascontiguousarray(np.rint(values * 32767.0).astype("<i2"))


class Audio(Media):
    """A sound clip, stored as a 16-bit PCM WAV file named by its sha256.

    Args:
        data: samples, ``(frames,)`` or ``(frames, channels)``; float in [-1, 1] (scaled by
            32767 and rounded) or int16. Out-of-range floats are an error, not clipped.
            Or a path to an audio file (wav, mp3, flac, ogg, m4a, aac), stored as it is.
        sample_rate: frames per second, a positive int (a file path needs none).
        caption: shown with the clip.

    Raises:
        MediaError: unsupported type, shape, dtype or range, or a bad sample rate.
    """

    kind = "audio"

    def __init__(self, data: Any, sample_rate: int | None = None, caption: str | None = None) -> None:
        self.caption = check_caption(caption, "Audio")
        self._file: tuple[bytes, str] | None = None
        if is_path(data):  # a file, as W&B takes it: stored as it is; a WAV file's header gives its numbers
            self._from_file(data, sample_rate)
            return
        if sample_rate is None:
            raise MediaError("Audio sample_rate", "None", "a positive int such as 16000",
                             "pass sample_rate= with an array (a file path needs none)")
        self.sample_rate = int(positive_number(sample_rate, "Audio sample_rate", "a positive int such as 16000",
                                               integer=True))
        if self.sample_rate > 2**31 - 1:
            raise MediaError("Audio sample_rate", describe(sample_rate), "a positive int below 2**31")
        array = to_array(data, "Audio data", ACCEPTED)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2 or not 1 <= array.shape[1] <= MAX_CHANNELS:
            hint = "pass (frames, channels); transpose a (channels, frames) array with data.T"
            raise MediaError("Audio data", describe(data), ACCEPTED, hint if array.ndim == 2 else None)
        self._samples = _to_int16(array, describe(data))
        self.frames, self.channels = (int(n) for n in self._samples.shape)

    def _from_file(self, path: Any, sample_rate: int | None) -> None:
        data, extension = read_media_file(path, "Audio file", FILE_FORMATS)
        self._file = (data, extension)
        self.sample_rate, self.channels, self.frames = sample_rate or 0, 0, 0
        if extension == "wav":
            try:
                with wave.open(io.BytesIO(data), "rb") as reader:
                    self.sample_rate, self.channels = reader.getframerate(), reader.getnchannels()
                    self.frames = reader.getnframes()
            except (wave.Error, EOFError) as error:
                raise MediaError("Audio file", f"{path!r}, not a readable WAV file ({error})",
                                 "a PCM WAV file") from None

    @property
    def duration(self) -> float | None:
        """Length in seconds (None for a non-WAV file)."""
        return self.frames / self.sample_rate if self.frames and self.sample_rate else None

    def encode(self) -> EncodedMedia:
        """The WAV file (or the file given) and the fields sample_rate, channels, duration, caption, file,
        sha256, size; a non-WAV file's numbers are None unless given."""
        if self._file is not None:
            main = make_file(*self._file)
            fields = {"sample_rate": self.sample_rate or None, "channels": self.channels or None,
                      "duration": self.duration, "caption": self.caption}
            return EncodedMedia(self.kind, {**fields, **file_fields(main)}, (main,))
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as writer:
            writer.setnchannels(self.channels)
            writer.setsampwidth(2)
            writer.setframerate(self.sample_rate)
            writer.writeframes(self._samples.tobytes())
        main = make_file(buffer.getvalue(), "wav")
        fields = {"sample_rate": self.sample_rate, "channels": self.channels, "duration": self.duration,
                  "caption": self.caption}
        return EncodedMedia(self.kind, {**fields, **file_fields(main)}, (main,))

    def __repr__(self) -> str:
        if self._file is not None and self.duration is None:
            return f"Audio({self._file[1]} file, {len(self._file[0])} bytes)"
        return f"Audio({self.duration:g} s, {self.channels} channels, {self.sample_rate} Hz)"

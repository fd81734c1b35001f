"""Pixel arrays shared by Image and Video: layout to channels-last, dtype to uint8."""

from __future__ import annotations

from typing import Any

from tracker_core.media._base import describe
from tracker_core.media._errors import MediaError

__all__ = ["to_uint8_channels_last"]

CHANNELS = (1, 3, 4)


def _channels_last(array: Any, lead: int, what: str, accepted: str, given: str) -> Any:
    """Move a channels-first axis last; add a channel axis to 2-D frames.

    The layout is CHW when the first pixel axis is 1, 3 or 4 and the last is not.
    """
    pixel_dims = array.ndim - lead
    if pixel_dims == 2:
        array = array[..., None]
    elif pixel_dims == 3:
        first, last = array.shape[lead], array.shape[-1]
        if last not in CHANNELS:
            if first not in CHANNELS:
                raise MediaError(what, f"{given} ({last} channels)", accepted,
                                 "channels must be 1 (gray), 3 (RGB) or 4 (RGBA)")
            import numpy as np

            array = np.moveaxis(array, lead, -1)
    else:
        raise MediaError(what, given, accepted)
    if 0 in array.shape:
        raise MediaError(what, f"{given} (empty)", accepted)
    return array


def _to_uint8(array: Any, what: str, accepted: str, given: str) -> Any:
    import numpy as np

    if array.dtype == np.uint8:
        return np.array(array, dtype=np.uint8, order="C")  # a copy: later changes by the caller don't leak in
    if array.dtype.kind != "f":
        raise MediaError(what, given, accepted, "convert with array.astype('uint8') for 0..255 values, "
                         "or scale floats to [0, 1]")
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise MediaError(what, f"{given} with NaN or infinite values", accepted)
    low, high = float(values.min()), float(values.max())
    if low < 0.0 or high > 1.0:
        raise MediaError(what, f"{given} with values in [{low:g}, {high:g}]", accepted,
                         "scale float pixels to [0, 1], or pass uint8 values 0..255")
    return np.ascontiguousarray(np.rint(values * 255.0).astype(np.uint8))


def to_uint8_channels_last(array: Any, lead: int, what: str, accepted: str) -> Any:
    """A C-contiguous uint8 copy of ``array`` shaped ``(*lead axes, H, W, C)`` with C in 1, 3, 4.

    ``lead`` is the number of leading axes (0 for an image, 1 for video frames).

    Raises:
        MediaError: wrong number of axes, channels, dtype, or float values outside [0, 1].
    """
    given = describe(array)
    return _to_uint8(_channels_last(array, lead, what, accepted, given), what, accepted, given)

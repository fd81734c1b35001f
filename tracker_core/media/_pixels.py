"""Pixel arrays shared by Image and Video: layout to channels-last, dtype to uint8.

Images follow W&B's rules for the values (``image_to_uint8``, the same as wandb's
``_guess_and_rescale_to_0_255``); video frames keep the stricter uint8-or-[0, 1] rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracker_core.media._base import describe
from tracker_core.media._errors import MediaError

__all__ = ["image_to_uint8", "to_uint8_channels_last"]

CHANNELS = (1, 3, 4)


def _channels_last(array: Any, lead: int, what: str, accepted: str, given: str | Callable[[], str],
                   prefer_chw: bool = False) -> Any:
    """Move a channels-first axis last; add a channel axis to 2-D frames.

    The layout is CHW when the first pixel axis is 1, 3 or 4 and the last is not (or, with
    ``prefer_chw``, whenever the first is: torch images are channels-first, as wandb assumes).
    ``given`` describes the array in errors (a callable is called only then).
    """
    if callable(given):
        try:
            return _channels_last(array, lead, what, accepted, "", prefer_chw)
        except MediaError:
            return _channels_last(array, lead, what, accepted, given(), prefer_chw)
    pixel_dims = array.ndim - lead
    if pixel_dims == 2:
        array = array[..., None]
    elif pixel_dims == 3:
        first, last = array.shape[lead], array.shape[-1]
        if last not in CHANNELS or (prefer_chw and first in CHANNELS):
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


def _rescaled(array: Any) -> Any:
    """wandb's ``_guess_and_rescale_to_0_255``, computed as wandb computes it.

    [0, 1] -> ``(x * 255)`` truncated; [-1, 1] -> ``(255 * 0.5 * (x + 1))`` truncated; anything else
    clipped to [0, 255] and truncated. Floats are computed in their own dtype (as numpy does for
    wandb). Integers are exact in any wide type, so they are computed so as to skip work (uint8 in
    0..255 is a copy) and never overflow (wandb's own code raises on int8 0/1 arrays).
    """
    import numpy as np

    high = array.max()
    low = 0 if array.dtype.kind in "bu" else array.min()  # unsigned: one reduction, not two
    if array.dtype.kind in "biu":  # integers: exact in any wide type, so the common cases skip the arithmetic
        if low >= 0 and high <= 1:
            return array.astype(np.uint8) * 255
        if low >= -1 and high <= 1:
            return (255 * 0.5 * (array.astype(np.int64) + 1)).astype(np.uint8)
        if low >= 0 and high <= 255:
            return array.astype(np.uint8)
        wide = np.minimum(array, 255) if array.dtype.kind == "u" else np.clip(array.astype(np.int64), 0, 255)
        return wide.astype(np.uint8)
    if low >= 0 and high <= 1:
        return (array * 255).astype(np.uint8)
    if low >= -1 and high <= 1:
        return (255 * 0.5 * (array + 1)).astype(np.uint8)
    return array.clip(0, 255).astype(np.uint8)


def image_to_uint8(array: Any, what: str, accepted: str, *, normalize: bool = True, prefer_chw: bool = False) -> Any:
    """A C-contiguous uint8 copy of an image array shaped ``(H, W, C)``, C in 1, 3, 4.

    Leading axes of length 1 are dropped (a batch of one). Values of any integer, bool or float
    dtype follow wandb: with ``normalize``, see ``_rescaled``; without, integers are cast to uint8
    (wrapping, as ``astype`` does) and floats clipped to [0, 255] and truncated.

    Raises:
        MediaError: wrong number of axes or channels, an empty array, a dtype that is not a number
            (complex, object, text), or NaN values.
    """
    import numpy as np

    def given() -> str:  # described only for an error: describing costs more than converting a small image
        return describe(original)

    original = array
    while array.ndim > 3 and array.shape[0] == 1:
        array = array[0]
    array = _channels_last(array, 0, what, accepted, given, prefer_chw)
    kind = array.dtype.kind
    if kind not in "biuf":
        raise MediaError(what, given(), accepted, "pixels must be integers, booleans or real floats")
    if kind == "f" and np.isnan(array).any():
        raise MediaError(what, f"{given()} with NaN values", accepted, "replace NaN pixels, e.g. np.nan_to_num(x)")
    if normalize:
        pixels = _rescaled(array)
    elif kind == "f":
        pixels = array.clip(0, 255).astype(np.uint8)
    else:
        pixels = array.astype(np.uint8)
    return np.ascontiguousarray(pixels)

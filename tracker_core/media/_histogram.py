"""``Histogram``: a compact record of bin edges and counts; the raw values are not kept."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from tracker_core._values import _Rejected, to_scalar
from tracker_core.media._base import EncodedMedia, Media, describe, loaded_instance, require, to_array
from tracker_core.media._errors import MediaError

__all__ = ["Histogram"]

SEQUENCE = "a sequence, numpy array or torch tensor of real numbers"
PRECOMPUTED = "a pair (counts, bin_edges) with len(bin_edges) == len(counts) + 1, finite increasing edges, counts >= 0"


def _numbers(given: Any, what: str) -> list[Any]:
    values = given.tolist() if hasattr(given, "tolist") else given
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
        raise MediaError(what, describe(values), PRECOMPUTED)
    numbers: list[Any] = list(values)
    if all(type(value) is int or (type(value) is float and math.isfinite(value)) for value in numbers):
        return numbers  # plain finite numbers (what .tolist() gives): nothing to convert
    out = []
    for value in numbers:
        try:
            number = to_scalar(value)
        except _Rejected as rejected:
            raise MediaError(what, rejected.reason, PRECOMPUTED) from None
        if type(number) not in (int, float) or not math.isfinite(number):  # type: ignore[arg-type]
            raise MediaError(what, f"the value {number!r}", PRECOMPUTED)
        out.append(number)
    return out


class Histogram(Media):
    """A histogram of values, kept as ``bins`` (edges) and ``values`` (counts); no file.

    Args:
        sequence: values to bin (any shape; flattened). NaN and ±Inf are counted in the
            fields ``nan_count`` and ``inf_count`` and left out of the bins; if nothing
            finite remains, ``bins`` and ``values`` are empty.
        np_histogram: precomputed ``(counts, bin_edges)``, as returned by ``numpy.histogram``.
        num_bins: the number of equal-width bins for ``sequence``, 1..512.

    Binning a sequence needs numpy and happens here, in the constructor.

    Raises:
        MediaError: neither or both of sequence and np_histogram, num_bins out of range,
            non-numeric values, or edges that don't fit the counts.
    """

    kind = "histogram"

    def __init__(self, sequence: Any = None, np_histogram: Any = None, num_bins: int = 64) -> None:
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or not 1 <= num_bins <= 512:
            raise MediaError("Histogram num_bins", describe(num_bins), "an int from 1 to 512")
        self.nan_count = self.inf_count = 0
        if (sequence is None) == (np_histogram is None):
            raise MediaError("Histogram", "both sequence and np_histogram" if sequence is not None else "no values",
                             f"sequence= ({SEQUENCE}) or np_histogram= ({PRECOMPUTED})")
        if np_histogram is not None:
            self._precomputed(np_histogram)
        else:
            self._bin(sequence, num_bins)

    def _precomputed(self, pair: Any) -> None:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise MediaError("Histogram np_histogram", describe(pair), PRECOMPUTED)
        counts, edges = _numbers(pair[0], "Histogram counts"), _numbers(pair[1], "Histogram bin_edges")
        if len(edges) != len(counts) + 1:
            raise MediaError("Histogram np_histogram", f"{len(counts)} counts and {len(edges)} bin edges", PRECOMPUTED)
        if any(count < 0 for count in counts) or any(b < a for a, b in itertools.pairwise(edges)):
            raise MediaError("Histogram np_histogram", "negative counts or decreasing edges", PRECOMPUTED)
        self.values, self.bins = counts, [float(edge) for edge in edges]

    def _bin(self, sequence: Any, num_bins: int) -> None:
        np = require("numpy", "Histogram", "numpy")
        if loaded_instance(sequence, "torch", "Tensor"):
            sequence = to_array(sequence, "Histogram sequence", SEQUENCE)
        if isinstance(sequence, (str, bytes, Mapping)):
            raise MediaError("Histogram sequence", describe(sequence), SEQUENCE)
        try:
            array = np.asarray(sequence)
        except (TypeError, ValueError) as error:
            raise MediaError("Histogram sequence", f"{describe(sequence)} ({error})", SEQUENCE) from None
        if array.dtype.kind not in "biuf":
            raise MediaError("Histogram sequence", describe(array), SEQUENCE)
        values = array.astype(np.float64).ravel()
        finite = np.isfinite(values)
        self.nan_count = int(np.isnan(values).sum())
        self.inf_count = int(values.size - finite.sum()) - self.nan_count
        self.values, self.bins = [], []
        if finite.any():
            try:
                counts, edges = np.histogram(values[finite], bins=num_bins)
            except ValueError as error:  # a range too wide for float64, e.g. [-1e308, 1e308]
                raise MediaError("Histogram sequence", f"values whose range cannot be binned ({error})",
                                 SEQUENCE) from None
            self.values, self.bins = counts.tolist(), edges.tolist()

    def encode(self) -> EncodedMedia:
        """The fields bins, values, nan_count, inf_count; no file."""
        fields = {"bins": list(self.bins), "values": list(self.values),
                  "nan_count": self.nan_count, "inf_count": self.inf_count}
        return EncodedMedia(self.kind, fields, ())

    def __repr__(self) -> str:
        return f"Histogram({len(self.values)} bins)"

"""Block summaries of a series chunk, so a long history is bucketed without reading its points.

Each chunk stores, per ``BLOCK_POINTS`` consecutive points, its numeric points' first and last step,
first, last, min and max value and count (``BLOCK``). Buckets made of whole blocks keep every
extreme exactly as buckets made of points do; only their edges snap to block edges, which is why
the read path uses blocks only when each bucket spans many of them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BLOCK", "BLOCK_POINTS", "bucket_starts", "merge_blocks", "summarize"]

BLOCK_POINTS = 64
BLOCK = np.dtype([("x0", "<i8"), ("x1", "<i8"), ("first", "<f8"), ("last", "<f8"), ("min", "<f8"),
                  ("max", "<f8"), ("count", "<i8")])


def summarize(steps: np.ndarray, values: np.ndarray, numeric: np.ndarray) -> bytes:
    """The packed ``BLOCK`` records of one chunk's points (``numeric`` marks the plain numbers; a block
    with none has no record)."""
    positions = np.flatnonzero(numeric)
    if len(positions) == 0:
        return b""
    block_of = positions // BLOCK_POINTS
    starts = np.flatnonzero(np.concatenate(([True], block_of[1:] != block_of[:-1])))
    ends = np.concatenate((starts[1:], [len(positions)]))
    x, y = steps[positions], values[positions]
    out = np.empty(len(starts), BLOCK)
    out["x0"], out["x1"] = x[starts], x[ends - 1]
    out["first"], out["last"] = y[starts], y[ends - 1]
    out["min"], out["max"] = np.fmin.reduceat(y, starts), np.fmax.reduceat(y, starts)
    out["count"] = ends - starts
    return out.tobytes()


def bucket_starts(x: np.ndarray, high: float, buckets: int) -> np.ndarray:
    """Where each non-empty one of ``buckets`` equal spans of ``[x[0], high]`` starts in the sorted ``x``."""
    low = float(x[0])
    if high <= low:
        return np.zeros(1, np.int64)
    index = np.minimum(((x - low) * (buckets / (high - low))).astype(np.int64), buckets - 1)
    return np.flatnonzero(np.concatenate(([True], index[1:] != index[:-1])))


def merge_blocks(blocks: np.ndarray, buckets: int) -> dict[str, np.ndarray]:
    """At most ``buckets`` buckets of whole blocks over the steps' range, by each block's first step:
    x0, x1, first, last, min, max and count arrays, as ``_series.bucketize`` makes from points."""
    x0 = blocks["x0"]
    starts = bucket_starts(x0, float(blocks["x1"][-1]), buckets)
    ends = np.concatenate((starts[1:], [len(blocks)]))
    return {"x0": x0[starts], "x1": blocks["x1"][ends - 1], "first": blocks["first"][starts],
            "last": blocks["last"][ends - 1], "min": np.fmin.reduceat(blocks["min"], starts),
            "max": np.fmax.reduceat(blocks["max"], starts), "count": np.add.reduceat(blocks["count"], starts)}

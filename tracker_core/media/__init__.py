"""Media values: encoders from a value to record fields and files; ``encode()`` does no I/O.

Each value validates its input when built and raises ``MediaError`` naming the accepted
forms. ``encode()`` returns an ``EncodedMedia``: the kind, JSON-safe record fields and the
content-addressed files to store (``MediaFile``, named ``<sha256>.<ext>``). The run writes them.

=========  =====================================  ======================================
kind       stored as                              record fields
=========  =====================================  ======================================
image      PNG (an image file's own PNG/JPEG      caption, width, height, channels; masks,
           bytes), masks .mask.png, boxes         boxes, classes, grouping, left_out when
           .boxes2D.json                          given
mask       grayscale PNG .mask.png                class_labels (ImageMask logged alone)
boxes2D    JSON {"box_data", "class_labels"}      class_labels, count (BoundingBoxes2D alone)
classes    no file                                class_set (Classes logged alone)
table      JSON {"columns", "data"}               columns, nrows; skipped (null cells)
histogram  no file                                bins, values, nan_count, inf_count
audio      16-bit PCM WAV                         sample_rate, channels, duration, caption
video      animated GIF (Pillow)                  fps, frames, width, height, format, caption
plot       JSON {"spec", "data"} (Vega-Lite)      title, nrows
=========  =====================================  ======================================

File-backed kinds add ``file``, ``sha256`` and ``size``. ``StoredMedia`` is a medium read back
from stored files (an artifact's), logged again byte for byte. Importing this package imports
none of numpy, PIL, torch or matplotlib; they are imported when a value needs them.
"""

from __future__ import annotations

from tracker_core.media._audio import Audio
from tracker_core.media._base import EncodedMedia, Media, MediaFile
from tracker_core.media._boxes import BoundingBoxes2D
from tracker_core.media._classes import Classes
from tracker_core.media._errors import MediaError
from tracker_core.media._histogram import Histogram
from tracker_core.media._image import Image
from tracker_core.media._masks import ImageMask
from tracker_core.media._plot import Plot, decode_plot
from tracker_core.media._stored import StoredMedia
from tracker_core.media._table import Table, decode_table
from tracker_core.media._video import Video

__all__ = [
    "Audio",
    "BoundingBoxes2D",
    "Classes",
    "EncodedMedia",
    "Histogram",
    "Image",
    "ImageMask",
    "Media",
    "MediaError",
    "MediaFile",
    "Plot",
    "StoredMedia",
    "Table",
    "Video",
    "decode_plot",
    "decode_table",
]

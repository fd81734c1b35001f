"""``tracker import tensorboard``: event files, read with TensorBoard's own loader, into the local store.

One run per folder that holds event files (``tfevents``), named by its path under the folder given; its
id is derived from that path and the first event's wall time, so importing again replaces the run rather
than adding one, and a moved log folder keeps its ids. Events are read with
``event_file_loader.EventFileLoader``, which also brings old summaries to today's tensor form:

- scalars: a point at the event's step and wall time (one row per step and time);
- histograms: our ``Histogram`` from the buckets (left edges and the last right edge, counts);
- images: our ``Image`` from the PNG (a list when one summary holds several);
- text: the text itself, as a value in the row;
- hparams: the session's hyperparameters become the run's config;
- anything else (audio, PR curves, meshes, graphs, custom plugins) is counted in the report, not imported.

A file that cannot be read (a torn record) is named in the report's errors; what was read before it is kept.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
from collections.abc import Callable
from typing import Any

from tracker_core._errors import TrackerError
from tracker_core.migrate._fidelity import Fidelity
from tracker_core.migrate._imported_run import ImportedRun, imported_source, write_imported_run
from tracker_core.migrate._mlflow_import import project_name
from tracker_core.migrate._optional import require
from tracker_core.migrate._progress import RunProgress
from tracker_core.store._run_dir import RunDir

__all__ = ["find_event_folders", "import_tensorboard"]

_RESERVED = frozenset({"_step", "_timestamp", "_runtime"})


def find_event_folders(path: str) -> list[str]:
    """Every folder under ``path`` (itself included) that holds an event file, sorted."""
    found = []
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        if any("tfevents" in name for name in files):
            found.append(folder)
    return sorted(found)


def _event_files(folder: str) -> list[str]:
    return sorted(os.path.join(folder, name) for name in os.listdir(folder)
                  if "tfevents" in name and os.path.isfile(os.path.join(folder, name)))


class _Reader:
    """Folds the events of one folder into rows, config and counts."""

    def __init__(self, run_dir: str, fidelity: Fidelity) -> None:
        self.run_dir = run_dir
        self.fidelity = fidelity
        self.rows: dict[tuple[int, float], dict[str, Any]] = {}
        self.config: dict[str, Any] = {}
        self.first_t: float | None = None
        self.last_t: float | None = None

    def read(self, path: str) -> None:
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # type: ignore[import-untyped,unused-ignore]

        try:
            for event in EventFileLoader(path).Load():
                self._event(event)
        except Exception as exc:  # noqa: BLE001 - a torn or corrupt file: keep what was read, name the file
            self.fidelity.error(path, f"{type(exc).__name__}: {exc}".splitlines()[0])
            return
        consumed, size = _whole_records(path), os.path.getsize(path)
        if consumed != size:  # the loader stops quietly at a torn or corrupt record (it waits for live files)
            self.fidelity.error(path, f"a torn or corrupt record at byte {consumed:,} of {size:,}; the events "
                                "before it were imported")

    def _event(self, event: Any) -> None:
        t = float(event.wall_time)
        self.first_t = t if self.first_t is None else min(self.first_t, t)
        self.last_t = t if self.last_t is None else max(self.last_t, t)
        if event.HasField("graph_def") or event.HasField("meta_graph_def"):
            self.fidelity.drop("graphs", "TensorBoard graphs are not imported")
        if not event.HasField("summary"):
            return
        for value in event.summary.value:
            self._value(int(event.step), t, value)

    def _value(self, step: int, t: float, value: Any) -> None:
        from tensorboard.util import tensor_util  # type: ignore[import-untyped,unused-ignore]

        plugin = value.metadata.plugin_data.plugin_name
        key = value.tag
        if plugin == "hparams":
            self._hparams(value.metadata.plugin_data.content)
            return
        if key in _RESERVED or not key:
            self.fidelity.drop("points", f"a tag named {key!r}, a name reserved here")
            return
        if not value.HasField("tensor"):
            self.fidelity.drop("summaries", f"a {value.WhichOneof('value') or 'value'} summary without a tensor")
            return
        array = tensor_util.make_ndarray(value.tensor)
        if plugin == "scalars":
            self._put(step, t, key, float(array.item()), "points")
        elif plugin == "histograms":
            self._put(step, t, key, self._histogram(array), "media")
        elif plugin == "images":
            self._put(step, t, key, self._images(array[2:]), "media")
        elif plugin == "text":
            texts = [item.decode("utf-8", errors="replace") for item in array.flatten()]
            self._put(step, t, key, texts[0] if len(texts) == 1 else "\n".join(texts), "points")
        else:
            self.fidelity.drop("summaries", f"TensorBoard {plugin or 'untyped'} summaries are not imported")

    def _put(self, step: int, t: float, key: str, value: Any, kind: str) -> None:
        if value is None:
            return
        self.rows.setdefault((step, t), {})[key] = value
        self.fidelity.count(kind)

    def _histogram(self, array: Any) -> dict[str, Any] | None:
        from tracker_core._media_store import store_media
        from tracker_core.media import Histogram

        if array.size == 0:
            return None
        edges = [float(left) for left in array[:, 0]] + [float(array[-1, 1])]
        counts = [round(float(count)) for count in array[:, 2]]
        if any(b < a for a, b in itertools.pairwise(edges)):
            self.fidelity.drop("media", "a histogram whose buckets are not in order")
            return None
        return store_media(Histogram(np_histogram=(counts, edges)), self.run_dir)

    def _images(self, encoded: Any) -> dict[str, Any] | None:
        from PIL import Image as PILImage

        from tracker_core._media_store import store_media
        from tracker_core.media import Image

        images = []
        for png in encoded:
            with PILImage.open(io.BytesIO(bytes(png))) as picture:
                picture.load()
                images.append(Image(picture.copy()))
        if not images:
            return None
        return store_media(images[0] if len(images) == 1 else images, self.run_dir)

    def _hparams(self, content: bytes) -> None:
        from tensorboard.plugins.hparams import plugin_data_pb2  # type: ignore[import-untyped,unused-ignore]

        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        if not data.HasField("session_start_info"):
            return
        for name, value in data.session_start_info.hparams.items():
            kind = value.WhichOneof("kind")
            if kind == "number_value":
                number = value.number_value
                self.config[name] = int(number) if number.is_integer() and abs(number) < 2**53 else number
            elif kind in ("string_value", "bool_value"):
                self.config[name] = getattr(value, kind)
            else:
                self.config[name] = None
            self.fidelity.count("config values")


def _whole_records(path: str) -> int:
    """Bytes of the file's complete records (TFRecord framing: 12 bytes of length and CRC, the data, its CRC)."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader  # type: ignore[import-untyped,unused-ignore]

    return sum(len(record) + 16 for record in RawEventFileLoader(path).Load())


def _run_id(relative: str, first_t: float) -> str:
    return "tb" + hashlib.sha256(f"{relative}\0{first_t!r}".encode()).hexdigest()[:16]


def _import_folder(folder: str, base: str, root: str, project: str, fidelity: Fidelity) -> str:
    """Import one folder of event files; returns 'imported', 'updated' or 'unchanged'."""
    files = _event_files(folder)
    relative = os.path.relpath(folder, base)
    name = relative if relative != "." else os.path.basename(os.path.abspath(folder))
    first = _first_wall_time(files[0])
    run_id = _run_id(name, first)
    run_dir = RunDir(root, project, run_id)
    run_dir.create()
    reader = _Reader(run_dir.path, fidelity)
    for path in files:
        reader.read(path)
    previous = imported_source(root, project, run_id)
    started = reader.first_t if reader.first_t is not None else first
    run = ImportedRun(project=project, run_id=run_id, name=name, started=started, status="finished",
                      ended=reader.last_t, exit_code=None, config=reader.config,
                      provenance={"tensorboard": {"folder": os.path.abspath(folder),
                                                  "files": [os.path.basename(p) for p in files]}},
                      rows=[(step, t, row) for (step, t), row in sorted(reader.rows.items())],
                      source={"source": "tensorboard", "folder": name, "first_wall_time": first})
    changed = write_imported_run(root, run)
    fidelity.count("runs")
    if not changed:
        return "unchanged"
    return "updated" if previous is not None else "imported"


def _first_wall_time(path: str) -> float:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # type: ignore[import-untyped,unused-ignore]

    for event in EventFileLoader(path).Load():
        return float(event.wall_time)
    return 0.0


def import_tensorboard(path: str, root: str, project: str | None = None, progress: bool = True,
                       on_run: Callable[[str, str], None] | None = None) -> Fidelity:
    """Import every folder of event files under ``path`` into the local store at ``root`` (project: ``project``,
    else the folder's name). ``on_run(folder, outcome)`` is told of each folder.

    Raises:
        TrackerError: tensorboard is not installed (the ``tensorboard`` extra), or ``path`` holds no event files.
    """
    require("tensorboard", "tensorboard")
    if not os.path.isdir(path):
        raise TrackerError(f"no folder {path!r}\nHint: pass the folder TensorBoard's --logdir would take")
    folders = find_event_folders(path)
    if not folders:
        raise TrackerError(f"no TensorBoard event files (*tfevents*) under {path!r}\n"
                           "Hint: pass the folder TensorBoard's --logdir would take")
    project = project or project_name(os.path.basename(os.path.abspath(path)) or "tensorboard")
    fidelity = Fidelity(f"tensorboard {path}", f"local store {root} project {project!r}")
    bar = RunProgress(len(folders), "importing from TensorBoard", enabled=progress)
    for folder in folders:
        try:
            outcome = _import_folder(folder, path, root, project, fidelity)
        except (OSError, ValueError, TrackerError) as exc:
            fidelity.error(folder, f"{type(exc).__name__}: {exc}".splitlines()[0])
            outcome = "error"
        if on_run is not None:
            on_run(folder, outcome)
        bar.advance(os.path.relpath(folder, path))
    bar.close()
    return fidelity

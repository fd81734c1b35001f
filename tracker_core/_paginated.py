"""``Api().runs(...)``'s answer: W&B's paginated ``Runs``, a lazy sequence read ``per_page`` runs at a time.

It is a ``Sequence`` like W&B's: ``len(runs)`` (the total, known without reading every page), ``runs[0]``,
``runs[-1]``, ``runs[2:5]`` (a list), ``for run in runs``, ``run in runs``, and ``runs.histories()``.
The first page is read when the object is made, so a wrong key, a missing project or a bad filter is
raised by ``runs()`` itself; later pages when first needed. It also compares equal to a list of the same
runs (``api.runs("p") == []``). One source per project; each answers ``fetch(offset, limit) -> (runs,
total)``, the local store from one sorted pass, the team server with one request per page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from tracker_core._errors import SettingsError

if TYPE_CHECKING:
    from tracker_core.api import StoredRun

__all__ = ["PageFetch", "Runs"]

PageFetch = Callable[[int, int], tuple[list["StoredRun"], int]]
"""``(offset, limit) -> (the runs from offset, at most limit of them; the source's total)``."""


class _Source:
    __slots__ = ("fetch", "loaded", "total")

    def __init__(self, fetch: PageFetch) -> None:
        self.fetch = fetch
        self.loaded = 0
        self.total: int | None = None

    @property
    def done(self) -> bool:
        return self.total is not None and self.loaded >= self.total


class Runs(Sequence["StoredRun"]):
    """Runs read page by page (W&B's ``wandb.apis.public.Runs``); see the module's docstring.

    Raises (from ``len``, indexing and iteration, when a page is read):
        ServerError: the team server refused or could not be reached.
    """

    def __init__(self, sources: Sequence[PageFetch], per_page: int = 50, path: str | None = None) -> None:
        if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
            raise SettingsError("per_page", f"{per_page!r} is not a whole number >= 1", "pass per_page=50")
        self.per_page = per_page
        self.path = path
        self.objects: list[StoredRun] = []
        self._sources = [_Source(fetch) for fetch in sources]
        self._load_page()

    @property
    def more(self) -> bool:
        """Whether pages are left to read."""
        return any(not source.done for source in self._sources)

    def _load_page(self) -> bool:
        """Read the next page of the first source not read to its end; False when none is left."""
        for source in self._sources:
            if source.done:
                continue
            page, total = source.fetch(source.loaded, self.per_page)
            source.loaded += len(page)
            source.total = source.loaded if not page else max(total, source.loaded)
            self.objects.extend(page)
            return True
        return False

    def _load_all(self) -> None:
        while self._load_page():
            pass

    def __len__(self) -> int:
        for source in self._sources:
            if source.total is None:
                source.total = source.fetch(0, 0)[1]  # the count alone
        return sum(source.total or 0 for source in self._sources)

    @overload
    def __getitem__(self, index: int) -> StoredRun: ...
    @overload
    def __getitem__(self, index: slice) -> list[StoredRun]: ...

    def __getitem__(self, index: int | slice) -> StoredRun | list[StoredRun]:
        if isinstance(index, slice):
            ends = (index.start, index.stop)
            if index.stop is None or any(end is not None and end < 0 for end in ends):
                self._load_all()
            else:
                while index.stop > len(self.objects) and self._load_page():
                    pass
            return self.objects[index]
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"runs are indexed by int or slice, not {type(index).__name__}")
        if index < 0:
            self._load_all()
        else:
            while index >= len(self.objects) and self._load_page():
                pass
        return self.objects[index]

    def __iter__(self) -> Iterator[StoredRun]:
        position = 0
        while True:
            if position < len(self.objects):
                yield self.objects[position]
                position += 1
            elif not self._load_page():
                return

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Runs, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:  # reads no page: the runs read so far
        more = ", more to read" if self.more else ""
        return f"<Runs {self.path or '(every project)'}: {self.objects!r}{more}>"

    def histories(self, samples: int | None = None, keys: Sequence[str] | None = None, x_axis: str = "_step",
                  format: str = "default", stream: str = "default") -> Any:  # noqa: A002 - W&B's name
        """Every run's ``history(samples, keys, x_axis, stream=stream)`` in one table, each row with its
        ``run_id`` (W&B's ``Runs.histories``). ``format``: ``"default"`` (a list of dicts), ``"pandas"`` or
        ``"polars"`` (a DataFrame). Like ``history()``, it never samples unless ``samples`` is given
        (W&B's default is 500 rows per run).

        Raises:
            SettingsError: an unknown ``format``, or a bad argument of ``history()``.
            ImportError: pandas or polars is not installed.
        """
        if format not in ("default", "pandas", "polars"):
            raise SettingsError("format", f"{format!r} is not one of default, pandas, polars",
                                "pass format='default', 'pandas' or 'polars'")
        rows = [{"run_id": run.id, **row} for run in self
                for row in run.history(samples=samples, keys=keys, x_axis=x_axis, stream=stream)]
        if format == "pandas":
            import pandas  # type: ignore[import-untyped,unused-ignore]

            return pandas.DataFrame(rows)
        if format == "polars":
            import polars  # type: ignore[import-not-found,unused-ignore]

            return polars.DataFrame(rows)
        return rows

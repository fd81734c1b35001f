"""``Table``: columns and rows of scalars or media, stored as one JSON file.

The file is ``{"columns": [...], "data": [[...], ...]}``. Scalar cells are tagged as in
``tracker_core._values`` (NaN, ±Inf and big integers round-trip); a media cell is
``{"$m": {"kind": ..., **fields}}``, its ``file`` naming a file stored beside the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from tracker_core._values import _Rejected, decode_tree, encode_tree, to_scalar
from tracker_core.media._base import (
    EncodedMedia,
    Media,
    MediaFile,
    describe,
    file_fields,
    load_json,
    loaded_instance,
    make_file,
    require,
)
from tracker_core.media._errors import MediaError

__all__ = ["Table", "decode_table"]

CELLS = "int, float (NaN and ±Inf included), bool, str, None, NumPy scalars, or a media value (Image, Audio, ...)"
ROWS = "a list of rows (lists or tuples), or a pandas DataFrame"


def _is_dataframe(value: object) -> bool:
    return loaded_instance(value, "pandas", "DataFrame")


def _columns(columns: object) -> list[str]:
    accepted = "a list of unique, non-empty str column names"
    if isinstance(columns, str) or not isinstance(columns, Sequence):
        raise MediaError("Table columns", describe(columns), accepted)
    names = list(columns)
    for name in names:
        if not isinstance(name, str) or not name:
            raise MediaError("Table columns", f"the column name {name!r}", accepted)
    if len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise MediaError("Table columns", f"duplicate names {duplicates}", accepted)
    return names


class Table(Media):
    """A table of scalars and media, stored as one JSON file named by its sha256.

    Args:
        columns: the column names (taken from the DataFrame when one is given).
        data: rows (each a list or tuple as long as ``columns``), or a pandas DataFrame.
        dataframe: a pandas DataFrame (when pandas is installed).

    Cells are converted when added, so later changes to the caller's objects don't leak in.
    Media cells (Image, Audio, ...) are encoded with the table; their files are stored too.

    Raises:
        MediaError: missing or duplicate column names, a row of the wrong length, or a cell
            that is not a scalar or a media value.
    """

    kind = "table"

    def __init__(self, columns: Sequence[str] | None = None, data: Any = None, dataframe: Any = None) -> None:
        if _is_dataframe(data):
            if dataframe is not None:
                raise MediaError("Table data", "both data and dataframe", "one of them")
            data, dataframe = None, data
        rows: Iterable[Any] = []
        if dataframe is not None:
            if not _is_dataframe(dataframe):
                raise MediaError("Table dataframe", describe(dataframe), "a pandas DataFrame")
            if data is not None or columns is not None:
                raise MediaError("Table", "a DataFrame together with data or columns",
                                 "columns (and rows), or a DataFrame alone")
            columns = [str(name) for name in dataframe.columns]
            rows = dataframe.itertuples(index=False, name=None)
        elif data is not None:
            if loaded_instance(data, "numpy", "ndarray") and data.ndim == 2:
                data = data.tolist()
            if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
                raise MediaError("Table data", describe(data), ROWS)
            rows = data
        if columns is None:
            raise MediaError("Table columns", "None", "a list of column names", "pass Table(columns=[...])")
        self._columns = _columns(columns)
        self._rows: list[list[Any]] = []
        for row in rows:
            if not isinstance(row, (list, tuple)):
                raise MediaError(f"Table row {len(self._rows)}", describe(row), ROWS)
            self.add_data(*row)

    @property
    def columns(self) -> list[str]:
        """The column names (a copy)."""
        return list(self._columns)

    @property
    def data(self) -> list[list[Any]]:
        """The rows (copies)."""
        return [list(row) for row in self._rows]

    def __len__(self) -> int:
        return len(self._rows)

    def add_data(self, *row: Any) -> None:
        """Append one row, one value per column.

        Raises:
            MediaError: the row's length differs from the number of columns, or a cell is not accepted.
        """
        where = f"Table row {len(self._rows)}"
        if len(row) != len(self._columns):
            raise MediaError(where, f"{len(row)} values", f"one value per column of {self._columns}")
        self._rows.append([self._cell(value, where, name) for value, name in zip(row, self._columns, strict=True)])

    @staticmethod
    def _cell(value: Any, where: str, column: str) -> Any:
        if isinstance(value, Media):
            if isinstance(value, Table):
                raise MediaError(f"{where}, column {column!r}", "a Table", CELLS, "tables do not nest")
            return value
        try:
            return to_scalar(value)
        except _Rejected as rejected:
            raise MediaError(f"{where}, column {column!r}", rejected.reason, CELLS) from None

    def add_column(self, name: str, data: Sequence[Any] | Any, optional: bool = False) -> None:
        """Append a column (as W&B's ``Table.add_column``): one value per existing row, or the rows
        themselves when the table has no column yet. ``optional`` is accepted for W&B; nulls are always allowed.

        Raises:
            MediaError: the name is taken or not a non-empty str, the data is not a list, tuple or
                numpy array, its length differs from the number of rows, or a value is not accepted.
        """
        _columns([*self._columns, name])
        if loaded_instance(data, "numpy", "ndarray"):
            data = list(data)
        if not isinstance(data, (list, tuple)):
            raise MediaError(f"Table column {name!r}", describe(data), "a list, tuple or numpy array of values")
        first = not self._columns
        if not first and len(data) != len(self._rows):
            raise MediaError(f"Table column {name!r}", f"{len(data)} values", f"one value per row ({len(self._rows)})")
        cells = [self._cell(value, f"Table row {index}", name) for index, value in enumerate(data)]
        if first:
            self._rows = [[] for _ in cells]
        for row, cell in zip(self._rows, cells, strict=True):
            row.append(cell)
        self._columns.append(name)

    def add_computed_columns(self, fn: Callable[[int, dict[str, Any]], Mapping[str, Any]]) -> None:
        """Add the columns ``fn(index, {column: value})`` returns for each row (W&B's signature).

        Raises:
            MediaError: ``fn`` returns something other than a mapping, rows disagree on the new
                columns, or a name or value is not accepted. The table is unchanged then.
        """
        computed: dict[str, list[Any]] = {}
        for index, row in self.iterrows():
            values = fn(index, dict(zip(self._columns, row, strict=True)))
            if not isinstance(values, Mapping):
                raise MediaError("Table computed columns", describe(values), "a dict of new column name -> value")
            if index and set(values) != set(computed):
                raise MediaError("Table computed columns", f"row {index} returned {sorted(values)}",
                                 f"the same columns for every row: {sorted(computed)}")
            for key, value in values.items():
                computed.setdefault(key, []).append(value)
        before = (list(self._columns), [list(row) for row in self._rows])
        try:
            for name, column in computed.items():
                self.add_column(name, column)
        except MediaError:
            self._columns, self._rows = before
            raise

    def get_column(self, name: str, convert_to: str | None = None) -> Any:
        """The values of one column, top to bottom; a numpy array with ``convert_to="numpy"``
        (image cells become their pixel arrays, as W&B's ``to_data_array``).

        Raises:
            MediaError: no column has that name, or ``convert_to`` is not None or "numpy".
        """
        if name not in self._columns:
            raise MediaError("Table column", repr(name), f"one of {self._columns}")
        if convert_to not in (None, "numpy"):
            raise MediaError("Table get_column convert_to", describe(convert_to), 'None or "numpy"')
        index = self._columns.index(name)
        values = [row[index] for row in self._rows]
        if convert_to is None:
            return values
        np = require("numpy", "Table get_column(convert_to='numpy')", "numpy")
        return np.array([value.to_data_array() if hasattr(value, "to_data_array") else value for value in values])

    def iterrows(self) -> Iterator[tuple[int, list[Any]]]:
        """``(index, row)`` for each row, as in W&B (the index is a plain int here)."""
        for index, row in enumerate(self._rows):
            yield index, list(row)

    def get_index(self) -> list[int]:
        """The row indexes 0..n-1 (W&B uses them to link tables; here they are plain ints)."""
        return list(range(len(self._rows)))

    def get_dataframe(self) -> Any:
        """The table as a pandas DataFrame. Raises MediaError: pandas is not installed."""
        pandas = require("pandas", "Table get_dataframe()", "pandas")
        return pandas.DataFrame.from_records(self.data, columns=self.columns)

    def encode(self) -> EncodedMedia:
        """The JSON file (plus every media cell's files) and the fields columns, nrows, file, sha256, size.

        A media cell that cannot be encoded costs that cell only: it is stored as null, listed in
        the record's ``skipped`` ([row, column] pairs) and in ``EncodedMedia.skipped`` with the reason.
        Parts left out of a cell (an image's malformed mask, say) are in ``EncodedMedia.left_out``.
        """
        cell_files: dict[str, MediaFile] = {}
        rows: list[list[Any]] = []
        skipped: list[tuple[int, str, str]] = []
        left_out: list[tuple[str, str]] = []
        for index, row in enumerate(self._rows):
            out: list[Any] = []
            for column, cell in zip(self._columns, row, strict=True):
                if isinstance(cell, Media):
                    try:
                        encoded = cell.encode()
                    except MediaError as error:
                        skipped.append((index, column, str(error)))
                        out.append(None)
                        continue
                    for media_file in encoded.files:
                        cell_files.setdefault(media_file.name, media_file)
                    left_out.extend((f"row {index}, column {column!r}, {part}", reason)
                                    for part, reason in encoded.left_out)
                    out.append({"$m": {"kind": encoded.kind, **encoded.fields}})
                else:
                    out.append(encode_tree(cell))
            rows.append(out)
        main = make_file(orjson.dumps({"columns": self._columns, "data": rows}), "json")
        fields: dict[str, Any] = {"columns": list(self._columns), "nrows": len(rows)}
        if skipped:
            fields["skipped"] = [[index, column] for index, column, _ in skipped]
        return EncodedMedia(self.kind, {**fields, **file_fields(main)}, (main, *cell_files.values()), tuple(skipped),
                            tuple(left_out))

    def __repr__(self) -> str:
        return f"Table(columns={self._columns}, nrows={len(self._rows)})"


def decode_table(file_bytes: bytes) -> tuple[list[str], list[list[Any]]]:
    """``(columns, rows)`` from a stored table file.

    Scalar cells are untagged (NaN, ±Inf and big integers restored); a media cell stays
    ``{"$m": fields}``, its ``file`` naming a file beside the table's own.

    Raises:
        MediaError: the bytes are not a table file.
    """
    accepted = 'a JSON object {"columns": [...], "data": [[...], ...]}'
    document = load_json(file_bytes, "table file", accepted)
    if not (isinstance(document, dict) and isinstance(document.get("columns"), list)
            and isinstance(document.get("data"), list) and all(isinstance(r, list) for r in document["data"])):
        raise MediaError("table file", describe(document), accepted)
    rows = [[cell if type(cell) is dict and "$m" in cell else decode_tree(cell) for cell in row]
            for row in document["data"]]
    return list(document["columns"]), rows

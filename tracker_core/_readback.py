"""What ``StoredRun`` adds for W&B's read-back calls: evenly spaced samples, step-range scans, run files.

Pure helpers over rows already read from the log, and ``RunFile`` over the run's folder. Nothing here
writes into the store.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from tracker_core._errors import SettingsError

__all__ = ["FILE_FOLDERS", "RunFile", "check_count", "check_keys", "list_files", "sample_evenly", "scan_rows"]

FILE_FOLDERS = ("files", "media")
"""The run folder's subfolders whose files ``StoredRun.files()`` lists: ``files/`` by their name inside
it (``output.log``, as W&B names it), ``media/`` as ``media/...``."""


def check_keys(keys: object, what: str) -> list[str] | None:
    """``keys`` as a list of strings, or None.

    Raises:
        SettingsError: not a list (or tuple) of strings.
    """
    if keys is None:
        return None
    if isinstance(keys, str) or not isinstance(keys, (list, tuple)) or not all(isinstance(k, str) for k in keys):
        raise SettingsError(f"{what} keys", f"{keys!r} is not a list of metric names",
                            "pass e.g. keys=['train/loss']")
    return list(keys)


def check_count(value: object, name: str, allow_none: bool = True) -> int | None:
    """A positive int (or None where allowed).

    Raises:
        SettingsError: anything else, bools included.
    """
    if value is None and allow_none:
        return None
    if type(value) is not int or value < 1:
        raise SettingsError(name, f"{value!r} is not a positive int", f"pass e.g. {name}=500")
    return value


def sample_evenly(rows: Sequence[dict[str, Any]], samples: int) -> list[dict[str, Any]]:
    """``samples`` rows evenly spaced over ``rows``, the first and the last included (``samples=1``:
    the last row); every row when there are no more than ``samples``."""
    count = len(rows)
    if count <= samples:
        return list(rows)
    if samples == 1:
        return [rows[-1]]
    spacing = (count - 1) / (samples - 1)  # >= 1, so the rounded indices are distinct
    return [rows[round(i * spacing)] for i in range(samples)]


def scan_rows(rows: Iterable[dict[str, Any]], keys: list[str] | None, min_step: int | None,
              max_step: int | None) -> Iterator[dict[str, Any]]:
    """Rows with ``min_step <= _step < max_step``; with ``keys``, only rows holding every key, each
    reduced to ``_step`` and those keys (W&B's ``scan_history``)."""
    for row in rows:
        step = row["_step"]
        if (min_step is not None and step < min_step) or (max_step is not None and step >= max_step):
            continue
        if keys is None:
            yield row
        elif all(key in row for key in keys):
            yield {"_step": step, **{key: row[key] for key in keys}}


class RunFile:
    """One file of a run: ``name`` (``output.log``, ``media/images/...``), ``size`` in bytes, ``path``
    on disk, ``updated_at``, ``mimetype``, ``md5`` (base64, as W&B gives it) and ``download()``."""

    def __init__(self, name: str, path: str) -> None:
        self.name = name
        self.path = path
        stat = os.stat(path)
        self.size = stat.st_size
        self.updated_at = datetime.datetime.fromtimestamp(stat.st_mtime, tz=datetime.UTC)
        import mimetypes  # here, not at import: reading runs back needs it only for files()

        self.mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"

    @property
    def md5(self) -> str:
        import base64
        import hashlib

        digest = hashlib.md5(usedforsecurity=False)
        with open(self.path, "rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
        return base64.b64encode(digest.digest()).decode("ascii")

    def download(self, root: str | os.PathLike[str] = ".", replace: bool = False, exist_ok: bool = False) -> IO[str]:
        """Copy the file to ``root/<name>`` and return it opened for reading (as W&B's ``File.download``).

        Raises:
            ValueError: the target exists and neither ``replace`` nor ``exist_ok`` is set.
            OSError: the copy failed.
        """
        target = os.path.join(os.fspath(root), *self.name.split("/"))
        if os.path.exists(target) and not replace:
            if not exist_ok:
                raise ValueError(f"{target} already exists, pass replace=True to overwrite it or exist_ok=True "
                                 "to keep it")
            return open(target, encoding="utf-8")
        import shutil

        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        shutil.copyfile(self.path, target)
        return open(target, encoding="utf-8")

    def __repr__(self) -> str:
        return f"<RunFile {self.name} ({self.size} bytes)>"


def _like(pattern: str) -> re.Pattern[str]:
    """SQL ``LIKE`` (``%`` any run of characters, ``_`` one character), as W&B's ``files(pattern=)``."""
    parts = ("." if char == "_" else ".*" if char == "%" else re.escape(char) for char in pattern)
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def list_files(run_dir: str, names: Sequence[str] | None = None, pattern: str | None = None) -> list[RunFile]:
    """The run's files (see ``FILE_FOLDERS``), by name; only ``names``, or those matching ``pattern``.

    Raises:
        SettingsError: both ``names`` and ``pattern``, or a bad type.
    """
    if names and pattern is not None:
        raise SettingsError("files()", "names and pattern given together", "pass one of them")
    if names is not None and (isinstance(names, str) or not all(isinstance(n, str) for n in names)):
        raise SettingsError("files() names", f"{names!r} is not a list of file names", "pass names=['output.log']")
    if pattern is not None and not isinstance(pattern, str):
        raise SettingsError("files() pattern", f"{pattern!r} is not a string", "pass e.g. pattern='%.png'")
    found = []
    for folder in FILE_FOLDERS:
        base = os.path.join(run_dir, folder)
        for parent, _, files in os.walk(base):
            for file_name in files:
                path = os.path.join(parent, file_name)
                relative = os.path.relpath(path, base if folder == "files" else run_dir).replace(os.sep, "/")
                found.append((relative, path))
    found.sort()
    if names:
        wanted = set(names)
        found = [(name, path) for name, path in found if name in wanted]
    elif pattern is not None:
        like = _like(pattern)
        found = [(name, path) for name, path in found if like.match(name)]
    files_found = []
    for name, path in found:
        try:
            files_found.append(RunFile(name, path))
        except FileNotFoundError:
            continue  # removed while listing
    return files_found

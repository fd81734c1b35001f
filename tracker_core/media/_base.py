"""The media base class, the encoded result, and helpers shared by every kind.

Nothing here imports numpy, torch, PIL or matplotlib at module level: a value of those
types is recognised through ``sys.modules`` (if the type's module is not loaded, the
value cannot be of that type), and the libraries are imported inside functions.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from tracker_core.media._errors import MediaError

__all__ = ["EncodedMedia", "Media", "MediaFile"]


@dataclass(frozen=True)
class MediaFile:
    """One file to store: its bytes, their sha256 (hex) and the file extension."""

    sha256: str
    extension: str
    data: bytes

    @property
    def name(self) -> str:
        """The content-addressed file name, ``<sha256>.<extension>``."""
        return f"{self.sha256}.{self.extension}"


@dataclass(frozen=True)
class EncodedMedia:
    """A media value encoded: its kind, JSON-safe record fields, and the files to store.

    For file-backed kinds ``fields`` holds ``file`` (the main file's name), ``sha256``
    and ``size``; ``files`` lists every file to store, the main one first. ``skipped`` lists
    the cells of a table stored as null because their media could not be encoded:
    ``(row, column, reason)``; ``left_out`` the parts of a value that were malformed and not
    stored while the rest was (an image's mask layer, one box): ``(part, reason)``, the part
    named as in ``"masks 'predictions'"``. Both are for the run to warn about.
    """

    kind: str
    fields: dict[str, Any]
    files: tuple[MediaFile, ...]
    skipped: tuple[tuple[int, str, str], ...] = ()
    left_out: tuple[tuple[str, str], ...] = ()


_DEFERRING = ("__init__", "add_data")  # methods whose MediaError is kept for later, not raised


class Media:
    """Base class of every media value. Constructors validate; ``encode`` is pure.

    Bad input never raises where the value is built (that is usually the training loop):
    the first MediaError from the constructor or ``add_data`` is kept, and ``encode()`` raises
    it, so ``run.log()`` leaves the value out with a warning (or raises in strict mode).
    ``validate()`` raises it at once, for code that wants to know early.
    """

    kind: ClassVar[str] = "media"
    _error: MediaError | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        wrappers = {name: _keeping_errors for name in _DEFERRING} | {"encode": _raising_kept_error}
        for name, wrap in wrappers.items():
            if name in cls.__dict__:
                setattr(cls, name, wrap(cls.__dict__[name]))

    def validate(self) -> None:
        """Raise the MediaError that building this value ran into, if any."""
        if self._error is not None:
            raise self._error

    def encode(self) -> EncodedMedia:
        """The value as record fields and files; deterministic (same input, same bytes). No I/O.

        Raises:
            MediaError: the input was bad (kept from when the value was built).
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(...)"


def make_file(data: bytes, extension: str) -> MediaFile:
    """A content-addressed file for ``data``."""
    return MediaFile(hashlib.sha256(data).hexdigest(), extension, data)


def read_media_file(path: object, what: str, extensions: tuple[str, ...]) -> tuple[bytes, str]:
    """The bytes and lower-case extension of a media file named by ``path`` (read now, stored as they are).

    Raises:
        MediaError: no such file, an unreadable one, or an extension not in ``extensions``.
    """
    import os

    name = os.fspath(path)  # type: ignore[call-overload]
    extension = os.path.splitext(name)[1].lstrip(".").lower()
    accepted = "a path to a " + ", ".join(extensions) + " file"
    if extension not in extensions:
        raise MediaError(what, f"the file {name!r}", accepted)
    try:
        with open(name, "rb") as file:
            return file.read(), extension
    except OSError as error:
        raise MediaError(what, f"the file {name!r}, which could not be read ({error.strerror})", accepted) from None


def is_path(value: object) -> bool:
    import os

    return isinstance(value, (str, os.PathLike))


def file_fields(main: MediaFile) -> dict[str, Any]:
    """The record fields naming the main file of a media value."""
    return {"file": main.name, "sha256": main.sha256, "size": len(main.data)}


def loaded_instance(value: object, module: str, attribute: str) -> bool:
    """Whether ``value`` is an instance of ``module.attribute``, without importing ``module``."""
    loaded = sys.modules.get(module)
    cls = getattr(loaded, attribute, None) if loaded is not None else None
    return isinstance(cls, type) and isinstance(value, cls)


def require(module: str, what: str, package: str) -> Any:
    """Import ``module`` for ``what``.

    Raises:
        MediaError: the module is not installed; the message says which package to install.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MediaError(what, f"no {module} module", f"an environment with {package}",
                         f"pip install {package}") from None


def describe(value: object) -> str:
    """A short description of a value for error messages: type, dtype and shape."""
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    name = f"{type(value).__module__}.{type(value).__qualname__}".removeprefix("builtins.")
    if shape is not None and dtype is not None:
        return f"a {name} of dtype {dtype} and shape {tuple(shape)}"
    if isinstance(value, (list, tuple)):
        return f"a {name} of length {len(value)}"
    text = repr(value)
    return f"{name} {text if len(text) <= 60 else text[:57] + '...'}"


def to_array(value: object, what: str, accepted: str) -> Any:
    """A numpy array from a numpy array or a torch tensor (detached, moved to CPU).

    Raises:
        MediaError: ``value`` is neither.
    """
    if loaded_instance(value, "torch", "Tensor"):
        tensor: Any = value
        tensor = tensor.detach().cpu()
        if tensor.is_floating_point():
            tensor = tensor.float()  # bfloat16 and float16 have no (or a lossy) numpy path
        return tensor.numpy()
    if loaded_instance(value, "numpy", "ndarray"):
        return value
    raise MediaError(what, describe(value), accepted)


def check_caption(caption: object, what: str) -> str | None:
    """The caption, checked to be a string or None."""
    if caption is None or isinstance(caption, str):
        return caption
    raise MediaError(f"{what} caption", describe(caption), "a str or None")


def positive_number(value: object, what: str, accepted: str, *, integer: bool) -> Any:
    """A positive finite int (or float when ``integer`` is false), numpy scalars included."""
    if not isinstance(value, bool) and hasattr(value, "__index__"):
        number: float = value.__index__()
    elif not integer and not isinstance(value, bool) and hasattr(value, "__float__"):
        number = float(value)
    else:
        raise MediaError(what, describe(value), accepted)
    if not (math.isfinite(number) and number > 0):
        raise MediaError(what, describe(value), accepted)
    return number


def _keeping_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def keeping(self: Media, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except MediaError as error:
            if self._error is None:
                self._error = error
            return None

    return keeping


def _raising_kept_error(encode: Callable[[Any], EncodedMedia]) -> Callable[[Any], EncodedMedia]:
    @functools.wraps(encode)
    def checked(self: Media) -> EncodedMedia:
        self.validate()
        return encode(self)

    return checked


def load_json(file_bytes: bytes, what: str, accepted: str) -> Any:
    """Parse a stored JSON file. Raises MediaError naming ``what`` and the ``accepted`` form."""
    import orjson

    try:
        return orjson.loads(file_bytes)
    except orjson.JSONDecodeError as error:
        raise MediaError(what, f"invalid JSON ({error})", accepted) from None


"""Class names of masks and boxes: W&B's ``Classes`` and the ``class_labels`` dicts of its layers.

``class_labels`` (on a mask or box layer) is ``{int id: str name}``; ``Classes`` (an image's
``classes=``) is ``[{"id": int, "name": str}, ...]``. Ids without a name get W&B's default
``class_<id>``. In records, class ids are JSON keys (strings) in ``class_labels`` and ints in a
class list.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from tracker_core.media._base import EncodedMedia, Media, describe
from tracker_core.media._errors import MediaError

__all__ = ["CLASS_SET", "Classes", "class_labels", "default_labels", "json_labels", "read_class_set"]

CLASS_SET = 'a list of {"id": int, "name": str} dicts, or a Classes'
_LABELS = "a dict of int class id -> str name"


def _class_id(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def class_labels(labels: object, what: str) -> dict[int, str]:
    """``{int id: str name}`` from a ``class_labels`` dict (numpy integer ids included).

    Raises:
        MediaError: not a dict, an id that is not an integer, or a name that is not a str.
    """
    if not isinstance(labels, Mapping):
        raise MediaError(f"{what} class_labels", describe(labels), _LABELS)
    out: dict[int, str] = {}
    for key, name in labels.items():
        class_id = _class_id(key)
        if class_id is None or not isinstance(name, str):
            raise MediaError(f"{what} class_labels", f"{key!r}: {name!r}", _LABELS)
        out[class_id] = name
    return out


def default_labels(ids: Iterable[int]) -> dict[int, str]:
    """W&B's names for class ids that were given none: ``class_<id>``."""
    return {i: f"class_{i}" for i in sorted(set(ids))}


def json_labels(labels: Mapping[int, str]) -> dict[str, str]:
    """``class_labels`` as stored: ids as JSON keys, in id order."""
    return {str(key): name for key, name in sorted(labels.items())}


def read_class_set(classes: object, what: str) -> dict[int, str]:
    """``{id: name}`` from a ``Classes`` or a list of ``{"id", "name"}`` dicts.

    Raises:
        MediaError: a Classes built from bad input, or a list that is not of such dicts.
    """
    if isinstance(classes, Classes):
        classes.validate()
        return dict(classes.labels)
    if isinstance(classes, (str, bytes)) or not isinstance(classes, (list, tuple)):
        raise MediaError(what, describe(classes), CLASS_SET)
    out: dict[int, str] = {}
    for index, item in enumerate(classes):
        if not isinstance(item, Mapping) or "id" not in item or "name" not in item:
            raise MediaError(f"{what} item {index}", describe(item), '{"id": int, "name": str}')
        class_id = _class_id(item["id"])
        if class_id is None or not isinstance(item["name"], str):
            raise MediaError(f"{what} item {index}", f"id {item['id']!r}, name {item['name']!r}",
                             '{"id": int, "name": str}')
        out[class_id] = item["name"]
    return out


class Classes(Media):
    """W&B's class list: the id and name of each class the masks and boxes of an image use.

    ``Image(..., classes=Classes([{"id": 1, "name": "cat"}]))`` adds these names to the image's
    class list (``fields["classes"]``), on top of its layers' ``class_labels``. Logged by itself
    it is stored as a record ``{"kind": "classes", "class_set": [...]}`` and no file.

    Args:
        class_set: ``[{"id": int, "name": str}, ...]``; other keys of each dict are ignored.

    Raises (from ``validate()`` or where it is used; W&B asserts here):
        MediaError: not a list of such dicts.
    """

    kind = "classes"

    def __init__(self, class_set: Any) -> None:
        self.labels: dict[int, str] = {}
        self.labels = read_class_set(class_set, "Classes")

    def encode(self) -> EncodedMedia:
        """The record field ``class_set``: ``[{"id", "name"}, ...]`` in id order. No file."""
        return EncodedMedia(self.kind, {"class_set": [{"id": k, "name": v} for k, v in sorted(self.labels.items())]},
                            ())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Classes) and self.labels == other.labels and self._error == other._error

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.labels.items())))

    def __repr__(self) -> str:
        return f"Classes({[{'id': k, 'name': v} for k, v in sorted(self.labels.items())]})"

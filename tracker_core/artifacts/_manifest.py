"""Manifests: the sorted list of (path, sha256, size) of a version, stored by its digest.

The digest of a version is the sha256 of the canonical JSON (orjson, keys sorted, files sorted by
path) of that list, so the same content gives the same digest on any machine. A reference entry
(``add_reference``) also has ``ref``, its URI, and may have ``sha256`` and ``size`` None (a URI
that could not be read); entries without ``ref`` hash exactly as before.
``<root>/artifacts/manifests/<digest>.json`` holds ``{"files": [...]}``; reading one checks its
digest and every path again.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import orjson

from tracker_core.artifacts._errors import ArtifactError
from tracker_core.artifacts._hashing import atomic_write
from tracker_core.artifacts._names import normalize_path, validate_sha256

__all__ = ["ManifestStore", "check_layout", "manifest_digest"]


def manifest_digest(files: list[dict[str, Any]]) -> str:
    """sha256 of the canonical JSON of ``files`` (each reduced to path, sha256, size; sorted by path)."""
    canonical = sorted(({"path": f["path"], "sha256": f["sha256"], "size": f["size"],
                         **({"ref": f["ref"]} if "ref" in f else {})} for f in files), key=lambda f: str(f["path"]))
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def check_layout(paths: list[str]) -> None:
    """Refuse a path that is also a folder of another path (``a`` and ``a/b``): it cannot be materialised."""
    folders = {path.rsplit("/", 1)[0] for path in paths if "/" in path}
    prefixes = {"/".join(folder.split("/")[:i]) for folder in folders for i in range(1, folder.count("/") + 2)}
    clash = sorted(prefixes.intersection(paths))
    if clash:
        raise ArtifactError(f"{clash[0]!r} is both a file and a folder in the artifact",
                            "rename one of them with the name= argument of add_file/add_dir")


def _entry(raw: dict[str, Any]) -> dict[str, Any]:
    """A validated manifest entry. Raises ArtifactError, KeyError, TypeError or ValueError when malformed."""
    if "ref" not in raw:
        return {"path": normalize_path(raw["path"]), "sha256": validate_sha256(raw["sha256"]), "size": int(raw["size"])}
    if not isinstance(raw["ref"], str):
        raise TypeError(f"reference {raw['ref']!r} is not a string")
    sha, size = raw["sha256"], raw["size"]
    return {"path": normalize_path(raw["path"]), "ref": raw["ref"],
            "sha256": None if sha is None else validate_sha256(sha), "size": None if size is None else int(size)}


class ManifestStore:
    """``<root>/artifacts/manifests/``."""

    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, digest: str) -> str:
        return os.path.join(self.root, f"{digest}.json")

    def write(self, files: list[dict[str, Any]]) -> str:
        """Store the manifest of ``files`` (sorted by path) unless present; returns its digest. Raises OSError."""
        digest = manifest_digest(files)
        if not os.path.exists(self.path(digest)):
            os.makedirs(self.root, exist_ok=True)
            ordered = sorted(files, key=lambda f: str(f["path"]))
            atomic_write(self.path(digest), orjson.dumps({"files": ordered}, option=orjson.OPT_INDENT_2))
        return digest

    def read(self, digest: str) -> list[dict[str, Any]]:
        """The validated entries of manifest ``digest``; raises ArtifactError when missing or damaged."""
        hint = "the store was damaged or collected; re-log the artifact from its source files"
        try:
            with open(self.path(digest), "rb") as handle:
                data = orjson.loads(handle.read())
            files = [_entry(f) for f in data["files"]]
        except FileNotFoundError:
            raise ArtifactError(f"manifest {digest} is missing", hint) from None
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            if isinstance(error, ArtifactError):
                raise
            raise ArtifactError(f"manifest {digest} cannot be read: {error}", hint) from None
        if manifest_digest(files) != digest:
            raise ArtifactError(f"manifest {digest} does not match its digest", hint)
        return files

    def digests(self) -> list[str]:
        try:
            return [name[:-5] for name in os.listdir(self.root) if name.endswith(".json")]
        except FileNotFoundError:
            return []

    def remove(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

"""Validation of artifact names, types, aliases, references and in-artifact paths (pure, no I/O)."""

from __future__ import annotations

import re

from tracker_core.artifacts._errors import ArtifactError

__all__ = ["normalize_path", "parse_ref", "validate_alias", "validate_name", "validate_sha256", "version_number"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_VERSION = re.compile(r"v(0|[1-9][0-9]*)")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DRIVE = re.compile(r"[A-Za-z]:")


def validate_name(name: object, what: str = "artifact name") -> str:
    """Return ``name`` if it is a valid artifact name (or type); raises ArtifactError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ArtifactError(
            f"invalid {what} {name!r}",
            f"use 1-128 characters from letters, digits, '_', '.' and '-', starting with a letter or digit "
            f"(pattern {_NAME.pattern})",
        )
    return name


def validate_alias(alias: object) -> str:
    """An alias is a name that cannot be mistaken for a version number (``v3``); raises ArtifactError."""
    validate_name(alias, "alias")
    if _VERSION.fullmatch(str(alias)):
        raise ArtifactError(f"invalid alias {alias!r}: it reads as a version number",
                            "version numbers are assigned by the store; choose another alias, e.g. 'best'")
    return str(alias)


def validate_sha256(value: object) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise ArtifactError(f"invalid sha256 {value!r}", "the manifest is damaged; re-log the artifact")
    return value


def normalize_path(path: object) -> str:
    """The canonical in-artifact path: relative, '/'-separated, no '.', '..' or empty segments.

    Backslashes count as separators, so a path made on Windows cannot smuggle a '..' through.

    Raises:
        ArtifactError: absolute paths, drive letters, '..' segments, empty segments, NUL characters.
    """
    hint = "in-artifact paths are relative, like 'data/train.bin', without '..' or empty segments"
    if not isinstance(path, str) or not path:
        raise ArtifactError(f"invalid path inside the artifact: {path!r}", hint)
    unified = path.replace("\\", "/")
    if unified.startswith("/") or _DRIVE.match(unified) or "\x00" in unified:
        raise ArtifactError(f"invalid path inside the artifact: {path!r} is absolute", hint)
    segments = [segment for segment in unified.split("/") if segment != "."]
    if not segments or any(segment in ("", "..") for segment in segments):
        raise ArtifactError(f"invalid path inside the artifact: {path!r}", hint)
    return "/".join(segments)


def parse_ref(ref: object) -> tuple[str, str]:
    """``"name"`` or ``"name:selector"`` -> (name, selector); the selector defaults to ``latest``."""
    if not isinstance(ref, str):
        raise ArtifactError(f"invalid artifact reference {ref!r}",
                            "write 'name', 'name:latest', 'name:v3' or 'name:<alias>'")
    name, _, selector = ref.partition(":")
    validate_name(name)
    if not selector:
        return name, "latest"
    if not _VERSION.fullmatch(selector):
        validate_name(selector, "alias")
    return name, selector


def version_number(selector: str) -> int | None:
    """3 for ``"v3"``; None for an alias."""
    return int(selector[1:]) if _VERSION.fullmatch(selector) else None

"""Versioned, content-addressed, deduplicated artifacts with lineage.

``Artifact`` is what a user builds; ``ArtifactStore`` commits it under a store root as an
``ArtifactVersion`` (identified by its manifest digest; ``vN`` and aliases are names on top),
resolves references, downloads with verification, deletes and collects. Runs appear only as
opaque strings ("project/run_id") for lineage.
"""

from __future__ import annotations

from tracker_core.artifacts._artifact import Artifact
from tracker_core.artifacts._entries import ArtifactEntry
from tracker_core.artifacts._errors import ArtifactError
from tracker_core.artifacts._registry import ArtifactVersion
from tracker_core.artifacts._store import ArtifactStore

__all__ = ["Artifact", "ArtifactEntry", "ArtifactError", "ArtifactStore", "ArtifactVersion"]

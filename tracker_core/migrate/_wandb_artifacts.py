"""W&B artifact records (logged and used) as versions in the local ``ArtifactStore`` and lineage records.

A logged artifact moves when every file of its manifest is still on this machine (W&B keeps an
offline run's artifact files in its staging cache until they are synced); references (``s3://``
and the like) move as references. A used artifact is found by name in the store (a run imported
earlier logged it); what cannot be found is counted, never guessed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import orjson

from tracker_core._errors import TrackerError
from tracker_core.migrate._fidelity import Fidelity

__all__ = ["import_artifacts"]

Emit = Callable[[dict[str, Any]], None]


def import_artifacts(root: str, run_path: str, artifacts: list[tuple[str, Any]], fidelity: Fidelity,
                     emit: Emit) -> None:
    """Commit the logged artifacts, record the used ones, and ``emit`` the run's artifact records.

    A failure is counted and reported in ``fidelity``; it never stops the import of the run.
    """
    from tracker_core.artifacts import ArtifactStore

    store = ArtifactStore(root)
    for direction, record in artifacts:
        try:
            if direction == "logged":
                _logged(store, run_path, record, fidelity, emit)
            else:
                _used(store, run_path, record, fidelity, emit)
        except (TrackerError, OSError) as error:
            fidelity.drop("artifacts", f"could not be stored: {error}")
            fidelity.error(f"artifact {record.name}", str(error))


def _logged(store: Any, run_path: str, record: Any, fidelity: Fidelity, emit: Emit) -> None:
    from tracker_core.artifacts import Artifact

    try:
        metadata = orjson.loads(record.metadata) if record.metadata else None
    except orjson.JSONDecodeError:
        metadata = None
    artifact = Artifact(record.name, record.type, description=record.description or None,
                        metadata=metadata if isinstance(metadata, dict) else None)
    missing = []
    for entry in record.manifest.contents:
        if entry.ref:
            artifact.add_reference(entry.ref, name=entry.path, checksum=False)
        elif entry.local_path and os.path.isfile(entry.local_path):
            artifact.add_file(entry.local_path, name=entry.path)
        else:
            missing.append(entry.path)
    if missing:
        fidelity.drop("artifacts", "its files are no longer on this machine (W&B's staging cache was cleared)")
        fidelity.error(f"artifact {record.name}", f"{len(missing)} file(s) missing, e.g. {missing[0]!r}; "
                       "the artifact was not imported")
        return
    version = store.commit(artifact, created_by=run_path, aliases=[a for a in record.aliases if a != "latest"])
    fidelity.count("artifacts")
    emit({"type": "artifact", "direction": "logged", "name": version.name, "version": version.version,
          "digest": version.digest, "aliases": list(version.aliases)})


def _used(store: Any, run_path: str, record: Any, fidelity: Fidelity, emit: Emit) -> None:
    from tracker_core.artifacts import ArtifactError

    name = record.name.rsplit("/", 1)[-1]
    try:
        version = store.resolve(name if ":" in name else f"{name}:latest")
    except ArtifactError:
        fidelity.drop("artifact uses", "the used artifact is not in this store (import the run that logged it)")
        return
    version = store.record_use(version, run_path)
    fidelity.count("artifact uses")
    emit({"type": "artifact", "direction": "used", "name": version.name, "version": version.version,
          "digest": version.digest})

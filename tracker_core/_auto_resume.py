"""``init(resume="auto")`` without an id: continue the last run of the store that did not finish cleanly.

As W&B does with ``wandb/wandb-resume.json``: a run started with ``resume="auto"`` (or ``True``) writes
its id into ``<store root>/wandb-resume.json`` once it is open, and removes the file when it finishes
cleanly (status ``finished``). A run that crashed, was killed or failed leaves the file, so the next
``init(resume="auto")`` in the same store (and project) continues that run; with no file it starts a
new run. The file is replaced atomically, so a reader never sees half of it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import orjson

from tracker_core.store._run_dir import RunDir

if TYPE_CHECKING:
    from tracker_core._run import Run

__all__ = ["FILE_NAME", "forget", "pending_run", "remember"]

FILE_NAME = "wandb-resume.json"
"""W&B's name for it; it lies in the store's root folder."""


def _path(root: str) -> str:
    return os.path.join(root, FILE_NAME)


def pending_run(root: str, project: str) -> str | None:
    """The id of the run the resume file names, if it is a run of ``project`` in the store; else None."""
    try:
        with open(_path(root), "rb") as handle:
            noted = orjson.loads(handle.read())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(noted, dict) or noted.get("project") != project:
        return None
    run_id = noted.get("run_id")
    if not isinstance(run_id, str) or not RunDir(root, project, run_id).exists():
        return None
    return run_id


def remember(run: Run) -> None:
    """Note ``run`` (just opened) as the one to continue, and forget it again once it finishes cleanly.

    Raises:
        OSError: the store's root cannot be written.
    """
    records = run._records
    if records.run_dir is None:
        return
    root = records.run_dir.root
    temporary = f"{_path(root)}.{os.getpid()}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(orjson.dumps({"run_id": run.id, "project": run.project}))
    os.replace(temporary, _path(root))
    run._finish_callbacks.append(forget)


def forget(run: Run) -> None:
    """After the run ended: remove the file if the run finished cleanly and the file still names it."""
    records = run._records
    if records.run_dir is None or records.meta.get("status") != "finished":
        return  # failed, killed, handed over: the next resume="auto" continues it
    root = records.run_dir.root
    if pending_run(root, run.project) == run.id:
        try:
            os.remove(_path(root))
        except OSError:
            pass  # another process removed or replaced it

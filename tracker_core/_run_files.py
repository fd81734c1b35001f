"""Files of a run as W&B scripts handle them: ``save`` (into ``files/``), ``restore`` (back out of a stored
run's ``files/``), ``log_code`` (source files as a ``code`` artifact) and ``init(save_code=True)`` (the main
script under ``files/code/``).

Where W&B names the run's files folder ``run.dir``, here ``run.dir`` is the run's folder and the files
are in its ``files/`` subfolder; a path inside either is saved relative to it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from tracker_core._errors import SettingsError
from tracker_core._saved_files import copy_atomically, saved_files_of
from tracker_core._wandb_init import warn_once

if TYPE_CHECKING:
    from tracker_core._notices import Notices
    from tracker_core._records import RunRecords
    from tracker_core._run import Run
    from tracker_core.api import StoredArtifact

__all__ = ["log_code", "main_script", "note_meta", "program_relpath", "restore", "safe_artifact_name", "save",
           "save_main_script"]

POLICIES = ("live", "now", "end")


def note_meta(records: RunRecords, fields: dict[str, Any]) -> None:
    """Add ``fields`` to the run's metadata: a ``meta`` record (the log stays the truth) and run.json."""
    if records.append({"type": "meta", "set": fields}):
        records.meta.update(fields)
        records.write_meta()


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def save(records: RunRecords, notices: Notices, glob_str: object, base_path: object, policy: str,
         glob: bool) -> list[str]:
    """``Run.save``: see there.

    Raises:
        SettingsError: an unknown policy, a path that is not a string, or a glob outside ``base_path``.
    """
    if policy not in POLICIES:
        raise SettingsError("policy", f"{policy!r} is not a save policy", "use 'live', 'now' or 'end'")
    if isinstance(glob_str, bytes):
        glob_str = glob_str.decode()
    if not isinstance(glob_str, (str, os.PathLike)):
        raise SettingsError("glob_str", f"{glob_str!r} is not a path", "pass a path or glob, e.g. 'checkpoints/*.pt'")
    text = os.fspath(glob_str)
    if text.startswith(("gs://", "s3://")):
        warn_once(f"save-url:{text}", f"tracker: save({text!r}): a cloud storage URL is no file to save; nothing "
                  f"was saved (record it with Artifact.add_reference).")
        return []
    if records.inactive is not None or records.run_dir is None:
        notices.inactive_call("save", records.inactive)
        return []
    run_folder, files = records.run_dir.path, records.run_dir.files
    pattern = os.path.abspath(text)
    if base_path is not None:
        base = os.path.abspath(os.fspath(base_path))  # type: ignore[call-overload]
    elif not os.path.isabs(text):
        base = os.getcwd()
    elif _inside(pattern, files):
        base = files
    elif _inside(pattern, run_folder):
        base = run_folder
    else:
        base = os.path.dirname(os.path.dirname(pattern))  # W&B keeps one folder level of an absolute path
    if not _inside(pattern, base):
        raise SettingsError("base_path", f"{text!r} is not inside base_path {base!r}",
                            "pass a base_path that the path starts with, or leave it out")
    import glob as globbing

    sources = sorted(globbing.glob(pattern)) if glob else ([pattern] if os.path.lexists(pattern) else [])
    sources = [source for source in sources if os.path.isfile(source)]
    if not sources:
        warn_once(f"save-none:{pattern}", f"tracker: save({text!r}) matched no file, so nothing was saved; "
                  f"the glob is expanded when save() is called (files made later are not picked up).")
        return []
    service = saved_files_of(run_folder)
    saved = []
    for source in sources:
        destination = os.path.join(files, os.path.relpath(source, base))
        saved.append(destination)
        if os.path.abspath(source) == destination:
            continue  # written into files/ already
        if policy == "now" or service is None:
            try:
                copy_atomically(source, destination)
            except OSError as exc:
                warn_once(f"save-copy:{source}", f"tracker: save(): {source!r} could not be copied into the run: "
                          f"{exc}. The run goes on.")
        else:
            service.watch(source, destination, policy)
    return saved


def _api_path(run_path: str) -> str:
    """W&B's ``entity/project/run_id`` (or ``.../runs/run_id``) as our ``project/run_id``."""
    parts = [part for part in run_path.split("/") if part]
    if len(parts) >= 3 and parts[-2] == "runs":
        del parts[-2]
    return "/".join(parts[-2:])


def restore(name: str, run_path: str | None, replace: bool, root: str | None, run: Run | None) -> IO[str] | None:
    """``tracker_core.restore``: a file of a stored run's ``files/`` back on disk, opened for reading.

    ``run_path`` defaults to ``run``'s, ``root`` to ``run``'s ``files/`` folder (else the current folder).
    A file already at ``root/name`` is opened as it is unless ``replace``. None when the run has no such file.

    Raises:
        SettingsError: no ``run_path`` and no run, or a ``name`` that leaves the run's folder.
        RunNotFoundError: no such run in the store.
    """
    from tracker_core.api import Api

    if not isinstance(name, str) or not name or os.path.isabs(name) or ".." in name.replace("\\", "/").split("/"):
        raise SettingsError("name", f"{name!r} is not a file name inside the run", "pass e.g. 'model.h5'")
    active_dir = run.dir if run is not None else None
    if run_path is None:
        if run is None:
            raise SettingsError("run_path", "restore() before init() needs the run to restore from",
                                "pass run_path='project/run_id'")
        run_path = run.path
    if root is None:
        root = os.path.join(active_dir, "files") if active_dir else os.getcwd()
    target = os.path.join(root, name)
    if os.path.exists(target) and not replace:
        return open(target, encoding="utf-8")
    store_root = os.path.dirname(os.path.dirname(active_dir)) if active_dir else None
    stored = Api(store_root).run(_api_path(run_path))
    source = os.path.join(stored.dir, "files", name)
    if not os.path.isfile(source):
        return None
    if os.path.abspath(source) != os.path.abspath(target):
        copy_atomically(source, target)
    return open(target, encoding="utf-8")


def _git_root(folder: str) -> str | None:
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def main_script() -> str | None:
    """The script the process runs (``__main__.__file__``), if it is a file."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return os.path.abspath(path) if isinstance(path, str) and os.path.isfile(path) else None


def program_relpath(path: str) -> str:
    """The script's path relative to its git checkout (else the current folder), as W&B's ``program_relpath``."""
    root = _git_root(os.path.dirname(path)) or os.getcwd()
    relative = os.path.relpath(path, root)
    return os.path.basename(path) if relative.startswith("..") else relative.replace(os.sep, "/")


def save_main_script(run: Run) -> None:
    """``init(save_code=True)``: the main script as ``files/code/<its path in the checkout>``; meta ``code_path``."""
    script = main_script()
    if script is None or run.dir is None:
        warn_once("save-code-none", "tracker: init(save_code=True): this process runs no script file (an "
                  "interactive session?), so no code was saved.", stacklevel=5)
        return
    relative = program_relpath(script)
    try:
        copy_atomically(script, os.path.join(run.dir, "files", "code", relative))
    except OSError as exc:
        warn_once("save-code-copy", f"tracker: init(save_code=True): {script!r} could not be saved: {exc}.",
                  stacklevel=5)
        return
    note_meta(run._records, {"code_path": f"code/{relative}"})


def safe_artifact_name(name: str) -> str:
    """W&B's ``make_artifact_name_safe``: other characters become ``_``, long names keep both ends."""
    cleaned = re.sub(r"[^a-zA-Z0-9_\-.]", "_", name)
    if not cleaned[:1].isalnum():
        cleaned = "a" + cleaned
    return cleaned if len(cleaned) <= 128 else f"{cleaned[:63]}..{cleaned[-63:]}"


def _is_code(path: str) -> bool:
    file = os.path.basename(path)
    return file.endswith(".py") or file.startswith("Dockerfile") or file == "requirements.txt"


def _call(function: Callable[..., bool], path: str, root: str) -> bool:
    """W&B's filters take ``(path)`` or ``(path, root)``."""
    import inspect

    try:
        wanted = len(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        wanted = 2
    return bool(function(path, root) if wanted >= 2 else function(path))


def log_code(run: Run, root: str | None, name: str | None, include_fn: Callable[..., bool] | None,
             exclude_fn: Callable[..., bool] | None) -> StoredArtifact | None:
    """``Run.log_code``: see there."""
    if run.dir is None or run._records.inactive is not None:
        return None
    from tracker_core.artifacts import Artifact

    store_root = os.path.dirname(os.path.dirname(run.dir))
    top = os.path.abspath(root) if root is not None else None
    found: list[tuple[str, str]] = []
    if top is not None:
        skip = [os.path.join(top, "wandb"), os.path.join(top, ".wandb"), store_root]
        for folder, subfolders, names in os.walk(top):
            subfolders[:] = sorted(sub for sub in subfolders if os.path.join(folder, sub) not in skip)
            for file in sorted(names):
                path = os.path.join(folder, file)
                if not _call(include_fn or _is_code, path, top):
                    continue
                if exclude_fn is not None and _call(exclude_fn, path, top):
                    continue
                found.append((path, os.path.relpath(path, top).replace(os.sep, "/")))
    if not found:
        warn_once(f"log-code-none:{top}", f"tracker: log_code(root={root!r}) found no code file, so no code "
                  f"was logged.")
        return None
    if name is None:
        script = main_script()
        name = f"source-{run.project}-{program_relpath(script) if script else 'interactive'}"
    artifact = Artifact(safe_artifact_name(name), type="code")
    for path, inside in found:
        artifact.add_file(path, name=inside)
    logged = run.log_artifact(artifact)
    if logged is not None:
        note_meta(run._records, {"code_artifact": logged.ref})
    return logged

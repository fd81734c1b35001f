"""What produced a run: command, code version, environment and hardware.

Collected off the training thread (``collect`` is called from a background thread);
each item can be turned off with the ``provenance_exclude`` setting. Inside ``shared_by_runs()`` (an
in-process sweep agent: its trial runs all run the code this process loaded) it is collected once and every
later run gets a copy: git alone is four subprocesses, more CPU than the rest of a short trial.
"""

from __future__ import annotations

import copy
import functools
import os
import platform
import shutil
import subprocess
import sys
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["collect", "redact", "shared", "shared_by_runs"]

_shared: list[dict[tuple[Any, ...], dict[str, Any]]] = []  # inside shared_by_runs(): what was collected, by arguments
_shared_lock = threading.Lock()


@contextmanager
def shared_by_runs() -> Iterator[None]:
    """While inside: ``collect`` gathers once per set of arguments, later calls return a copy of that."""
    with _shared_lock:
        _shared.append({})
    try:
        yield
    finally:
        with _shared_lock:
            _shared.pop()


def _git(args: list[str], cwd: str, limit: int | None = None) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    out = done.stdout if limit is None else done.stdout[: limit + 1]
    return out.decode("utf-8", errors="replace")


def _git_info(cwd: str, include_diff: bool, diff_limit: int) -> dict[str, Any] | None:
    if shutil.which("git") is None:
        return None
    commit = _git(["rev-parse", "HEAD"], cwd)
    if commit is None:
        return None
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd) or ""
    info: dict[str, Any] = {
        "commit": commit.strip(),
        "branch": (_git(["rev-parse", "--abbrev-ref", "HEAD"], cwd) or "").strip() or None,
        "remote": (_git(["config", "--get", "remote.origin.url"], cwd) or "").strip() or None,
        "dirty": bool(status.strip()),
    }
    if include_diff and info["dirty"]:
        diff = _git(["diff", "HEAD"], cwd, limit=diff_limit) or ""
        info["diff_truncated"] = len(diff.encode()) > diff_limit
        info["diff"] = diff.encode()[:diff_limit].decode("utf-8", errors="ignore")
    return info


@functools.cache  # installed packages do not change under a running program
def _packages() -> dict[str, str]:
    from importlib import metadata

    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[name] = dist.version
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


@functools.cache
def _gpu() -> dict[str, Any] | None:
    """GPU facts from torch if the program already imported it, else from nvidia-smi."""
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available():
                return {"count": torch.cuda.device_count(),
                        "names": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
                        "cuda": torch.version.cuda, "driver": _nvidia_smi_driver()}
        except Exception:  # noqa: BLE001 - a broken CUDA set-up must not stop the run
            return None
    if shutil.which("nvidia-smi"):
        names = _nvidia_smi(["--query-gpu=name", "--format=csv,noheader"])
        if names:
            return {"count": len(names), "names": names, "driver": _nvidia_smi_driver()}
    return None


def _nvidia_smi(args: list[str]) -> list[str]:
    try:
        done = subprocess.run(["nvidia-smi", *args], capture_output=True, timeout=10, check=False, text=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip()] if done.returncode == 0 else []


def _nvidia_smi_driver() -> str | None:
    if not shutil.which("nvidia-smi"):
        return None
    lines = _nvidia_smi(["--query-gpu=driver_version", "--format=csv,noheader"])
    return lines[0] if lines else None


def redact(text: str, secrets: Collection[str]) -> str:
    """``text`` with every secret in it replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def collect(exclude: Collection[str], diff_limit: int, cwd: str | None = None,
            secrets: Collection[str] = ()) -> dict[str, Any]:
    """Gather every provenance item not excluded; ``secrets`` (an API key) are redacted from the command
    line. Slow parts: git, package list, nvidia-smi. Inside ``shared_by_runs()``, only the first call gathers."""
    if "all" in exclude:
        return {}
    cwd = cwd or os.getcwd()
    found = shared(exclude, diff_limit, cwd, secrets)
    if found is not None:
        return copy.deepcopy(found)
    info = _collect(exclude, diff_limit, cwd, secrets)
    with _shared_lock:
        if _shared:
            _shared[-1].setdefault(_key(exclude, diff_limit, cwd, secrets), copy.deepcopy(info))
    return info


def shared(exclude: Collection[str], diff_limit: int, cwd: str | None = None,
           secrets: Collection[str] = ()) -> dict[str, Any] | None:
    """Inside ``shared_by_runs()``: what an earlier ``collect`` with these arguments gathered (shared: not to
    be changed); else None (nothing gathered yet, or not inside)."""
    key = _key(exclude, diff_limit, cwd or os.getcwd(), secrets)
    with _shared_lock:
        return _shared[-1].get(key) if _shared else None


def _key(exclude: Collection[str], diff_limit: int, cwd: str, secrets: Collection[str]) -> tuple[Any, ...]:
    return frozenset(exclude), diff_limit, cwd, tuple(secrets)


def _collect(exclude: Collection[str], diff_limit: int, cwd: str, secrets: Collection[str]) -> dict[str, Any]:
    info: dict[str, Any] = {}
    if "command" not in exclude:
        info["command"] = [redact(arg, secrets) for arg in (sys.executable, *sys.argv)]
    if "cwd" not in exclude:
        info["cwd"] = cwd
    if "python" not in exclude:
        info["python"] = {"version": platform.python_version(), "implementation": platform.python_implementation()}
    if "host" not in exclude:
        system = os.uname()  # not platform.platform(): it may start a subprocess
        info["host"] = {"hostname": system.nodename, "os": f"{system.sysname}-{system.release}-{system.machine}",
                        "cpu_count": os.cpu_count()}
    if "git" not in exclude:
        git = _git_info(cwd, include_diff="git_diff" not in exclude, diff_limit=diff_limit)
        if git:
            info["git"] = git
    if "gpu" not in exclude:
        gpu = _gpu()
        if gpu:
            info["gpu"] = gpu
    if "packages" not in exclude:
        info["packages"] = _packages()
    return info

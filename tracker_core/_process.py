"""Process identity, so a reader can tell a live writer from a dead one whose pid was reused."""

from __future__ import annotations

import os
import time
from typing import Any

__all__ = ["ProcessIdentity", "current_identity", "writer_state"]

ProcessIdentity = dict[str, Any]


def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return None


def start_ticks(pid: int) -> int | None:
    """The start time, in clock ticks since boot, of a running process (/proc/<pid>/stat field 22).

    None when there is no such process, or when it has exited and only waits to be reaped (a zombie).
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()  # the command name may hold spaces and ')'
    try:
        return None if fields[0] in (b"Z", b"X") else int(fields[19])
    except (IndexError, ValueError):
        return None


_identity: list[ProcessIdentity] = []  # this process's, read once (a forked child has another pid: read again)


def current_identity() -> ProcessIdentity:
    """Host, boot id, pid and start time of this process (a copy; /proc is read once per process: under
    load a read of /proc/<pid>/stat took milliseconds, and every run's start and a sweep's claims ask)."""
    pid = os.getpid()
    if not _identity or _identity[0]["pid"] != pid:
        _identity[:] = [{"host": os.uname().nodename, "boot_id": _boot_id(), "pid": pid,
                         "start_ticks": start_ticks(pid)}]
    return dict(_identity[0])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def writer_state(identity: ProcessIdentity, last_activity: float, heartbeat_interval: float,
                 now: float | None = None, stale_after: float = 3.0) -> str:
    """'alive' or 'dead' for the process that wrote a run.

    On the same host (same hostname and boot id) the pid must exist with the same start
    time; elsewhere the run is dead once its last activity is older than
    ``stale_after`` heartbeat intervals (plus a minute of clock slack).
    """
    here = current_identity()
    same_host = identity.get("host") == here["host"] and identity.get("boot_id") == here["boot_id"]
    if same_host and identity.get("pid"):
        pid = int(identity["pid"])
        recorded = identity.get("start_ticks")
        if recorded is None or here["start_ticks"] is None:  # no /proc: the pid check is all we have
            return "alive" if _pid_alive(pid) else "dead"
        return "alive" if start_ticks(pid) == recorded else "dead"
    now = time.time() if now is None else now
    return "dead" if now - last_activity > stale_after * heartbeat_interval + 60.0 else "alive"

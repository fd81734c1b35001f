"""The trial a run belongs to, as ``init()`` sees it: handed over in-process by ``agent(function=...)``, or in
a file named by ``TRACKER_SWEEP_TRIAL`` for a command trial (every rank of a torchrun child reads the same file).

Light on purpose (``init()`` imports it): no Optuna here.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracker_core import _workers

if TYPE_CHECKING:
    from tracker_core._run import Run

__all__ = ["STOP_POLL_INTERVAL", "Trial", "attach", "current_trial", "handed_over", "prepare_init"]

STOP_POLL_INTERVAL = 0.2
"""Seconds between a command trial's looks at its stop file."""


@dataclass
class Trial:
    """One trial's identity and parameters (what the agent hands to ``init()``)."""

    sweep_id: str
    number: int
    run_id: str
    project: str
    entity: str | None
    dir: str
    params: dict[str, Any]
    stop_file: str | None = None
    run: Run | None = None
    stop_reason: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"sweep_id": self.sweep_id, "number": self.number, "run_id": self.run_id, "project": self.project,
                "entity": self.entity, "dir": self.dir, "params": self.params, "stop_file": self.stop_file}

    def request_stop(self, reason: str) -> None:
        """Ask the trial's run to stop, now if it has started, else as soon as ``init()`` attaches it."""
        with self.lock:
            self.stop_reason = self.stop_reason or reason
            if self.run is not None:
                self.run._request_stop(reason)


_handed: list[Trial] = []  # the in-process agent's current trial, until an init() takes it
_file_taken = False  # this process's init() already took the trial file's trial


def handed_over(trial: Trial | None) -> None:
    """The in-process agent: the next ``init()`` in this process belongs to ``trial`` (None: to none)."""
    _handed.clear()
    if trial is not None:
        _handed.append(trial)


def current_trial() -> Trial | None:
    """The trial the next ``init()`` belongs to, taken once: in-process first, else the environment's file.

    Raises:
        SettingsError: TRACKER_SWEEP_TRIAL names a file that cannot be read as a trial.
    """
    global _file_taken
    if _handed:
        return _handed.pop()
    if _file_taken:
        return None
    from tracker_core._settings import SweepSettings, resolve

    path = resolve(SweepSettings, {}).sweep_trial
    if not path:
        return None
    _file_taken = True
    try:
        with open(path, encoding="utf-8") as file:
            return Trial(**json.load(file))
    except (OSError, ValueError, TypeError) as error:
        from tracker_core._errors import SettingsError

        raise SettingsError("TRACKER_SWEEP_TRIAL", f"the sweep trial file {path!r} cannot be read ({error})",
                            "it is written by `tracker agent` for the trial it starts; unset the variable to "
                            "run this script outside a sweep") from error


def prepare_init(trial: Trial, arguments: dict[str, Any], config: Any) -> Any:
    """``init()``'s arguments and config for a trial run: the sweep's project, entity, store and run id unless
    given, the sweep id as group unless given; the trial's parameters over the config passed to ``init()``."""
    from tracker_core._config import to_config_dict

    for name, value in (("project", trial.project), ("entity", trial.entity), ("dir", trial.dir),
                        ("id", trial.run_id), ("group", trial.sweep_id)):
        if arguments.get(name) is None:
            arguments[name] = value
    base = to_config_dict(config, []) if config is not None else {}
    return {**base, **trial.params}


def attach(trial: Trial, run: Run) -> None:
    """After ``init()``: lock the parameters in ``run.config``, note the sweep in run.json, pass on a stop."""
    run.config.lock(trial.params)
    run._records.meta["sweep"] = trial.sweep_id
    run._records.meta["sweep_trial"] = trial.number
    if not run.disabled:
        run._write_meta()
    with trial.lock:
        trial.run = run
        if trial.stop_reason is not None:
            run._request_stop(trial.stop_reason)
    if trial.stop_file:
        _watch_stop_file(trial.stop_file, run)


def _watch_stop_file(path: str, run: Run) -> None:
    """A command trial's child: a daemon thread turns the agent's stop file into ``run.should_stop``."""
    done = threading.Event()
    run._finish_callbacks.append(lambda _run: done.set())

    def watch() -> None:
        while not done.wait(STOP_POLL_INTERVAL):
            if os.path.exists(path):
                try:
                    with open(path, encoding="utf-8") as file:
                        reason = file.read().strip() or "stopped by the sweep"
                except OSError:
                    reason = "stopped by the sweep"
                run._request_stop(reason)
                return

    _workers.spawn(watch, "tracker-sweep-stop")

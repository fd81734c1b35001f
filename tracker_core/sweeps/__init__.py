"""Sweeps: W&B's sweep configs, searched and pruned by Optuna, run by agents on this machine.

    import tracker_core as wandb
    sweep_id = wandb.sweep(sweep={"method": "grid", "parameters": {"lr": {"values": [0.1, 0.01]}}}, project="p")
    wandb.agent(sweep_id, function=train, count=2)

With no server, a sweep lives in the local store (``<store>/.sweeps/``), and every agent on the machine that
uses that store shares it. Optuna loads only when a sweep is created or an agent starts.

With a team server (``TRACKER_SERVER`` and a key, mode ``online``), the sweep lives on the server: ``sweep()``
returns ``entity/project/id``, and agents on any machine claim its trials there (grid, random, bayes and
hyperband, with Optuna on the server). Each trial's run is an online run, streamed to the server.
"""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from tracker_core._errors import RunStopped

__all__ = ["RunStopped", "agent", "controller", "sweep"]


def _root(dir: str | os.PathLike[str] | None) -> str:  # noqa: A002 - init()'s name for it
    from tracker_core._settings import resolve_settings

    return os.path.abspath(os.path.expanduser(resolve_settings({"dir": dir}).dir))


def _online(dir: str | os.PathLike[str] | None) -> Any:  # noqa: A002
    """The resolved settings when a team server is configured and the mode is online, else None."""
    from tracker_core._settings import resolve_settings

    settings = resolve_settings({"dir": dir})
    return settings if settings.server and settings.mode == "online" else None


def _require_optuna() -> None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        from tracker_core._errors import SettingsError

        raise SettingsError("sweeps", "Optuna is not installed", 'pip install "tracker[sweeps]"') from None


def sweep(sweep: Mapping[str, Any] | str | os.PathLike[str], entity: str | None = None, project: str | None = None,
          prior_runs: Any = None, *, dir: str | os.PathLike[str] | None = None,  # noqa: A002
          seed: int | None = None) -> str:
    """Create a sweep from a W&B sweep config (a dict, or the path of a YAML file); returns its id.

    ``project``/``entity`` default to the config's, then to ``uncategorized``. ``seed`` makes the search
    reproducible (a random one is drawn and stored otherwise). ``prior_runs`` is not supported (warns).

    With a team server configured the sweep is created there and the id returned is ``entity/project/id``.

    Raises:
        SweepConfigError: the config is not W&B's format (the message names the key path and a fix).
        SettingsError: Optuna is not installed.
        ServerError: the server refused the sweep (e.g. it lacks Optuna for bayes or hyperband).
    """
    from tracker_core.sweeps._config import SweepConfig, load_config

    raw = load_config(sweep)
    config = SweepConfig.parse(raw)
    online = _online(dir)
    if online is not None:
        from tracker_core.sweeps._remote import create_remote_sweep, server_client

        client = server_client(online)
        try:
            return create_remote_sweep(client, raw, entity or raw.get("entity") or online.entity,
                                       project or raw.get("project") or "uncategorized", seed)
        finally:
            client.close()
    _require_optuna()
    if prior_runs:
        from tracker_core._errors import TrackerWarning

        warnings.warn("sweep(prior_runs=...) is not supported by local sweeps; ignored", TrackerWarning, stacklevel=2)
    from tracker_core.sweeps._controller import create_study
    from tracker_core.sweeps._store import SweepStore

    store = SweepStore(_root(dir))
    try:
        project = project or raw.get("project") or "uncategorized"
        sweep_id = store.create(raw, project, entity or raw.get("entity"),
                                secrets.randbits(31) if seed is None else int(seed))
        create_study(store, sweep_id, config)
    finally:
        store.close()
    return sweep_id


def _split(sweep_id: str) -> str:
    """``entity/project/id`` or ``project/id`` -> ``id`` (a local sweep id is unique in its store)."""
    return sweep_id.rstrip("/").rsplit("/", 1)[-1]


def controller(sweep_id: str, *, dir: str | os.PathLike[str] | None = None,  # noqa: A002
               retry_crashed: bool = False, entity: str | None = None, project: str | None = None) -> Any:
    """The controller of a sweep (its state, trials, and the next trial): the team server's when one is
    configured (``RemoteController``; ``entity``/``project`` complete a short id), else the local store's
    (``Controller``). ``retry_crashed``: a grid point whose trial crashed is handed out again.

    Raises:
        SweepNotFoundError: no such sweep in the store.
        ServerError: no such sweep on the server (404), or the key is refused.
    """
    online = _online(dir)
    if online is not None:
        from tracker_core.sweeps._remote import RemoteController, server_client, sweep_path

        client = server_client(online)
        try:
            team, name, short = sweep_path(client, sweep_id, entity or online.entity, project or online.project)
            return RemoteController(client, _root(dir), team, name, short, retry_crashed)
        except BaseException:
            client.close()
            raise
    _require_optuna()
    from tracker_core.sweeps._controller import Controller
    from tracker_core.sweeps._store import SweepStore

    return Controller(SweepStore(_root(dir)), _split(sweep_id), retry_crashed)


def agent(sweep_id: str, function: Callable[[], Any] | None = None, entity: str | None = None,
          project: str | None = None, count: int | None = None, *,
          dir: str | os.PathLike[str] | None = None, retry_crashed: bool = False) -> int:  # noqa: A002
    """Run trials of a sweep in this process: ``function`` is called once per trial, and the ``init()``
    inside it gets the trial's run (its parameters in ``config``, locked). Without ``function``, each trial
    runs the config's ``command``/``program`` as a child process (what ``tracker agent`` does).

    Stops after ``count`` trials, or when the sweep has none left (grid done, ``run_cap``, stopped); waits
    while the sweep is paused. ``retry_crashed=True`` runs again the grid points whose trial crashed (an
    agent killed mid-trial). Returns the number of trials run.

    Raises:
        SweepNotFoundError: no such sweep in the store.
        SettingsError: ``count`` is not a positive int; a command agent for a config whose command needs a
            ``program`` it lacks; Optuna is not installed.
    """
    from tracker_core._errors import SettingsError

    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise SettingsError("count", f"{count!r} is not a positive int", "pass count=10, or None for no limit")
    from tracker_core._settings import SweepSettings, resolve
    from tracker_core.sweeps._agent import run_agent

    ctl = controller(sweep_id, dir=dir, retry_crashed=retry_crashed, entity=entity, project=project)
    if function is None and ctl.config.program is None and any("${program}" in c for c in ctl.config.command):
        ctl.store.close()
        raise SettingsError("sweep config", "its command runs ${program} but the config has no program",
                            "add program: train.py to the sweep config, or pass agent(sweep_id, function=train)")
    try:
        return run_agent(ctl, function, count, resolve(SweepSettings, {}).agent_kill_delay)
    finally:
        ctl.store.close()

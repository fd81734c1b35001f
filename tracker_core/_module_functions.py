"""W&B's other module-level functions: each finds the active run and calls it (``tracker_core.save`` ->
``Run.save``), or, for the account and set-up calls W&B scripts make (``login``, ``setup``, ``require``,
``teardown``), does what has a meaning here and accepts the rest."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import IO, TYPE_CHECKING, Any

from tracker_core._fluent import _require_active, active_run
from tracker_core._fluent import finish as _finish

if TYPE_CHECKING:
    from tracker_core._wandb_settings import Settings
    from tracker_core.api import StoredArtifact
    from tracker_core.artifacts import Artifact

__all__ = ["link_model", "log_artifact", "log_model", "login", "mark_preempting", "require", "restore", "save",
           "setup", "teardown", "use_artifact", "use_model"]


def save(glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None = None, policy: str = "live",
         glob: bool = True) -> list[str]:
    """``Run.save`` on the active run (as ``wandb.save``).

    Raises:
        RunStateError: no run is active.
        SettingsError: a bad argument (see ``Run.save``).
    """
    return _require_active("save").save(glob_str, base_path, policy, glob)


def restore(name: str, run_path: str | None = None, replace: bool = False, root: str | None = None) -> IO[str] | None:
    """A file of a stored run's ``files/`` back on disk, opened for reading (as ``wandb.restore``);
    ``run_path`` (``project/run_id``) is needed when no run is active. See ``Run.restore``.

    Raises:
        SettingsError: no run is active and no ``run_path`` is given.
        RunNotFoundError: no such run in the store.
    """
    from tracker_core._run_files import restore as restore_file

    return restore_file(name, run_path, replace, root, active_run())


def log_artifact(artifact_or_path: Artifact | str | os.PathLike[str], name: str | None = None,
                 type: str | None = None, aliases: Sequence[str] | None = None,  # noqa: A002 - W&B's name
                 tags: Sequence[str] | None = None) -> StoredArtifact | None:
    """``Run.log_artifact`` on the active run.

    Raises:
        RunStateError: no run is active.
        ArtifactError: see ``Run.log_artifact``.
    """
    return _require_active("log_artifact").log_artifact(artifact_or_path, name, type, aliases, tags)


def use_artifact(artifact_or_name: Any, type: str | None = None,  # noqa: A002 - W&B's name
                 aliases: Sequence[str] | None = None, use_as: str | None = None) -> StoredArtifact:
    """``Run.use_artifact`` on the active run.

    Raises:
        RunStateError: no run is active.
        ArtifactError: see ``Run.use_artifact``.
    """
    return _require_active("use_artifact").use_artifact(artifact_or_name, type, aliases, use_as)


def log_model(path: str | os.PathLike[str], name: str | None = None, aliases: Sequence[str] | None = None) -> None:
    """``Run.log_model`` on the active run.

    Raises:
        RunStateError: no run is active.
        ArtifactError: see ``Run.log_model``.
    """
    _require_active("log_model").log_model(path, name, aliases)


def use_model(name: str) -> str:
    """``Run.use_model`` on the active run.

    Raises:
        RunStateError: no run is active.
        ArtifactError: see ``Run.use_model``.
    """
    return _require_active("use_model").use_model(name)


def link_model(path: str | os.PathLike[str], registered_model_name: str, name: str | None = None,
               aliases: Sequence[str] | None = None) -> StoredArtifact | None:
    """``Run.link_model`` on the active run.

    Raises:
        RunStateError: no run is active.
        ArtifactError: see ``Run.link_model``.
    """
    return _require_active("link_model").link_model(path, registered_model_name, name, aliases)


def mark_preempting() -> None:
    """``Run.mark_preempting`` on the active run.

    Raises:
        RunStateError: no run is active.
    """
    _require_active("mark_preempting").mark_preempting()


def login(key: str | None = None, relogin: bool | None = None, host: str | None = None, force: bool | None = None,
          timeout: int | None = None, verify: bool = True, referrer: str | None = None, anonymous: Any = None,
          **more: Any) -> bool:
    """W&B's ``login``, never prompting. With a team server (``host=``, ``TRACKER_SERVER`` or a stored
    ``tracker login``), the key (``key=``, else ``TRACKER_API_KEY`` or the stored one) is checked with the
    server's ``GET /api/v1/whoami``: True if it is accepted, and a ``key=`` passed here is then stored as
    ``tracker login`` stores it (for this user, mode 0600), so later runs stream to that server; False with a
    warning (a ``TrackerWarning``) if the server refuses the key, cannot be reached or no key is known.
    Without a server (or in offline/disabled mode) it is True at once: the local store needs no account.
    ``host=`` naming W&B's own cloud (``https://api.wandb.ai``) is no team server of this project and is
    ignored, as W&B's keys are. The key is never printed or recorded.

    Raises:
        SettingsError: ``key`` or ``host`` is not a string, or a TRACKER_* variable is malformed.
    """
    import warnings

    from tracker_core._errors import SettingsError, TrackerWarning
    from tracker_core._settings import resolve_settings

    for name, value in (("key", key), ("host", host)):
        if value is not None and not isinstance(value, str):
            raise SettingsError(name, f"a {type(value).__name__} is not a string", f"pass {name}='...'")
    if host is not None and _is_wandb_cloud(host):
        host = None
    settings = resolve_settings({"server": host.rstrip("/") if host else None})
    if not settings.server or (host is None and settings.mode in ("offline", "disabled")):
        return True
    server = settings.server.rstrip("/")
    secret = key or (settings.api_key.get_secret_value() if settings.api_key is not None else None)
    if not secret:
        warnings.warn(f"tracker: login() found no API key for {server}; pass key='trk_...', set "
                      f"TRACKER_API_KEY or run `tracker login {server}`", TrackerWarning, stacklevel=2)
        return False
    from tracker_core.sync import ServerClient, ServerError, save_credentials

    client = ServerClient(server, secret, timeout=float(timeout) if timeout else 15.0)
    try:
        client.whoami()
    except ServerError as exc:
        why = "the server refused the API key (it is wrong or was revoked)" if exc.status == 401 else \
            f"the server could not check it: {exc}"
        warnings.warn(f"tracker: login() to {server} failed: {why}. Hint: create a key with `tracker server keys "
                      f"create` on the server and pass it as key=, or set TRACKER_API_KEY", TrackerWarning,
                      stacklevel=2)
        return False
    finally:
        client.close()
    if key is not None:
        save_credentials(server, key)
    return True


def _is_wandb_cloud(host: str) -> bool:
    from urllib.parse import urlparse

    name = (urlparse(host if "://" in host else f"https://{host}").hostname or "").lower()
    return name == "wandb.ai" or name.endswith(".wandb.ai")


def setup(settings: Settings | dict[str, Any] | None = None) -> None:
    """W&B's ``setup``: ``settings`` become the defaults of every later ``init()`` in this process
    (an ``init()`` argument, or its own ``settings=``, wins). See ``tracker_core.Settings``.

    Raises:
        SettingsError: ``settings`` is neither a Settings nor a dict.
    """
    if settings is not None:
        from tracker_core._wandb_settings import set_process_defaults

        set_process_defaults(settings)


def require(requirement: str | Iterable[str] | None = None, experiment: str | Iterable[str] | None = None) -> None:
    """W&B's ``require``: accepted and ignored (W&B 0.31 treats its feature names, such as ``"core"`` or
    ``"service"``, as no-ops too)."""
    return None


def teardown(exit_code: int | None = None) -> None:
    """W&B's ``teardown``: finish the active run, if any, with ``exit_code``."""
    _finish(exit_code=exit_code)

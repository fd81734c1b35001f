"""W&B's ``init()`` options, translated into ours before the settings are resolved.

Options with a meaning here get it (``resume=True`` is ``auto``, ``mode="dryrun"`` is ``offline``,
``resume_from="<id>?_step=N"`` is a rewind, ``fork_from`` a new run starting from another's history,
``save_code`` saves the main script, ``config_include_keys`` filters the config, ...); the rest are
accepted and warned about once per process (a ``TrackerWarning``) as having no effect here. A wrong
*type* is still a mistake and raises ``SettingsError``.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tracker_core._errors import SettingsError, TrackerWarning
from tracker_core._wandb_settings import process_defaults, settings_dict

if TYPE_CHECKING:
    from tracker_core._run import Run
    from tracker_core._settings import Settings
    from tracker_core.store._run_dir import RunDir

__all__ = ["InitExtras", "RunMoment", "parse_run_moment", "translate", "warn_once"]

WANDB_ONLY = ("save_code", "sync_tensorboard", "tensorboard", "monitor_gym", "settings", "anonymous",
              "allow_val_change", "config_exclude_keys", "config_include_keys", "force", "resume_from", "fork_from")
"""``init()`` keywords of W&B that are not settings of ours."""

NO_EFFECT = {
    "sync_tensorboard": "TensorBoard event files are not copied into the run; log the values with log()",
    "tensorboard": "TensorBoard event files are not copied into the run; log the values with log()",
    "monitor_gym": "gym environments are not recorded as videos; log them with tracker_core.Video",
    "anonymous": "runs are written to the local store, with no account",
    "force": "runs are written to the local store, with no login to force",
}
"""Options accepted and ignored, with the reason given in their warning."""

_SETTING_TO_OPTION = {
    "project": "project", "entity": "entity", "mode": "mode", "resume": "resume", "reinit": "reinit",
    "run_id": "id", "run_name": "name", "run_notes": "notes", "run_tags": "tags", "run_group": "group",
    "run_job_type": "job_type", "root_dir": "dir", "console": "console", "silent": "silent", "quiet": "silent",
    "save_code": "save_code", "resume_from": "resume_from", "fork_from": "fork_from",
    "allow_val_change": "allow_val_change", "id": "id", "name": "name", "notes": "notes", "tags": "tags",
    "group": "group", "job_type": "job_type", "dir": "dir",
}
"""W&B settings that are ``init()`` options (W&B's or ours) of the same meaning."""

_CONSOLE_WORDS = {"off": "off", "auto": "auto", "wrap": "auto", "redirect": "auto", "wrap_raw": "auto",
                  "wrap_emu": "auto", "on": "auto"}

_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_once(marker: str, message: str, stacklevel: int = 4) -> None:
    """A TrackerWarning, once per marker in this process."""
    with _warned_lock:
        if marker in _warned:
            return
        _warned.add(marker)
    warnings.warn(message, TrackerWarning, stacklevel=stacklevel)


class RunMoment:
    """W&B's ``"<run id>?_step=<N>"``: a point in a run's history."""

    __slots__ = ("run_id", "step")

    def __init__(self, run_id: str, step: int) -> None:
        self.run_id = run_id
        self.step = step

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunMoment) and (other.run_id, other.step) == (self.run_id, self.step)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RunMoment({self.run_id!r}, {self.step})"


def parse_run_moment(option: str, value: object) -> RunMoment:
    """``"abc123?_step=200"`` -> RunMoment("abc123", 200).

    Raises:
        SettingsError: another form, another metric than ``_step``, or a step that is not a whole number >= 0.
    """
    from urllib.parse import parse_qs, urlparse

    hint = f"write {option}='<run id>?_step=<step>', e.g. {option}='abc123?_step=200'"
    if not isinstance(value, str):
        raise SettingsError(option, f"{value!r} is not a string", hint)
    parsed = urlparse("runmoment://" + value)
    query = parse_qs(parsed.query)
    if not parsed.netloc or parsed.path or list(query) != ["_step"] or len(query["_step"]) != 1:
        raise SettingsError(option, f"{value!r} is not '<run id>?_step=<step>'", hint)
    raw = query["_step"][0]
    try:
        number = float(raw)
    except ValueError:
        raise SettingsError(option, f"step {raw!r} is not a number", hint) from None
    if not number.is_integer() or number < 0:
        raise SettingsError(option, f"step {raw!r} is not a whole number >= 0", hint)
    return RunMoment(parsed.netloc, int(number))


class InitExtras:
    """What ``init()`` does with the translated options once the run is open (``apply``)."""

    def __init__(self) -> None:
        self.save_code = False
        self.code_dir: str | None = None
        self.fork_from: RunMoment | None = None
        self.create_new = False
        self.allow_val_change = False
        self.asked_online = False
        self.fork_source: RunDir | None = None
        self.resume_auto = False

    def prepare(self, settings: Settings) -> Settings:
        """Before the run opens: find the run to fork, so a wrong id leaves nothing behind; for
        ``resume="auto"`` without an id, the run the store's resume file names (see ``_auto_resume``).
        Returns the settings to open the run with.

        Raises:
            RunNotFoundError: the ``fork_from`` run is not in the store.
        """
        root = os.path.abspath(os.path.expanduser(settings.dir))
        if settings.resume == "auto":
            self.resume_auto = settings.mode != "disabled"
            run_id = settings.id
            if run_id is None and self.resume_auto:
                from tracker_core._auto_resume import pending_run

                run_id = pending_run(root, settings.project)
            settings = settings.model_copy(update={"id": run_id, "resume": "allow"})
        if self.fork_from is not None and settings.mode != "disabled":
            from tracker_core._fork import find_source

            self.fork_source = find_source(root, settings.project, self.fork_from.run_id)
        return settings

    def apply(self, run: Run) -> None:
        """Fork, save code, relax the config; warn if ``mode="online"`` found no server.

        Raises:
            OSError: the forked run's log cannot be read.
        """
        if self.allow_val_change:
            run.config.allow_all_changes()
        if self.asked_online and getattr(run.settings, "mode", None) != "online":
            warn_once("mode-online", "tracker: mode='online' needs a team server and none is configured, so this "
                      "run is written offline to the local store. Configure a server with TRACKER_SERVER=<url> "
                      "and TRACKER_API_KEY (or `tracker login <url>`), or pass mode='offline' to silence this.")
        if run.disabled or run.dir is None:
            return
        if self.resume_auto:
            from tracker_core._auto_resume import remember

            remember(run)
        if self.fork_from is not None and self.fork_source is not None:
            from tracker_core._fork import fork_history

            fork_history(run, self.fork_source, self.fork_from.step)
        if self.save_code:
            from tracker_core._run_files import save_main_script

            save_main_script(run)
        if self.code_dir:
            run.log_code(self.code_dir)


def _bool(option: str, value: object) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise SettingsError(option, f"{value!r} is not a bool", f"pass {option}=True or {option}=False")
    return value


def _keys(option: str, value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)) or not all(
            isinstance(key, str) for key in value):
        raise SettingsError(option, f"{value!r} is not a list of config keys", f"pass {option}=['lr', 'epochs']")
    return list(value)


def _from_settings(arguments: dict[str, Any], extras: InitExtras) -> None:
    """Fold W&B settings (setup()'s, then init's ``settings=``) into unset arguments."""
    own = settings_dict(arguments.pop("settings", None))
    ignored = []
    for key, value in [*own.items(), *process_defaults().items()]:  # each fills what is unset: init's first
        if value is None:
            continue
        option = _SETTING_TO_OPTION.get(key)
        if option == "console" and isinstance(value, str):
            value = _CONSOLE_WORDS.get(value, value)
        if option is not None:
            if arguments.get(option) is None:
                arguments[option] = value
        elif key in ("x_disable_stats", "_disable_stats"):
            if _bool(key, value) and arguments.get("system_interval") is None:
                arguments["system_interval"] = 0.0
        elif key == "x_stats_sampling_interval":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SettingsError(key, f"{value!r} is not a number of seconds", f"pass {key}=10")
            if arguments.get("system_interval") is None:
                arguments["system_interval"] = float(value)
        elif key in ("disable_git", "x_disable_meta", "_disable_meta"):
            if _bool(key, value) and arguments.get("provenance_exclude") is None:
                arguments["provenance_exclude"] = ("git", "git_diff") if key == "disable_git" else ("all",)
        elif key == "code_dir":
            extras.code_dir = str(value)
        else:
            ignored.append(key)
    if ignored:
        names = ", ".join(sorted(set(ignored)))
        warn_once(f"settings:{names}", f"tracker: W&B settings {names} have no effect here and were ignored "
                  f"(see the README, 'Switching from W&B').", stacklevel=5)


def _with_files(config: Any) -> Any:
    """W&B's config files: ``config="config.yaml"`` is read, and ``config-defaults.yaml`` in the current
    folder, if there, gives defaults under the config passed (as W&B reads them at ``init``).

    Raises:
        SettingsError: a config file that cannot be read (see ``config_file_values``).
    """
    from tracker_core._config import DEFAULTS_FILE, config_file_values, is_config_file

    if is_config_file(config):
        config = config_file_values(config)
    defaults = config_file_values(DEFAULTS_FILE, must_exist=False) if os.path.isfile(DEFAULTS_FILE) else None
    if not defaults:
        return config
    if config is None:
        return defaults
    from tracker_core._config import to_config_dict
    from tracker_core._encoding import Problem

    problems: list[Problem] = []
    values = to_config_dict(config, problems)
    for problem in problems:
        warn_once(f"config:{problem.key}", f"tracker: left out config {problem.key!r}: {problem.reason}")
    return {**defaults, **values}


def _filter_config(config: Any, include: list[str] | None, exclude: list[str] | None) -> Any:
    if include is None and exclude is None:
        return config
    from tracker_core._config import to_config_dict
    from tracker_core._encoding import Problem

    problems: list[Problem] = []
    values = dict(config) if isinstance(config, Mapping) else to_config_dict(config, problems)
    for problem in problems:
        warn_once(f"config:{problem.key}", f"tracker: left out config {problem.key!r}: {problem.reason}")
    if include is not None:
        values = {k: v for k, v in values.items() if k in include}
    if exclude is not None:
        values = {k: v for k, v in values.items() if k not in exclude}
    return values


def translate(arguments: dict[str, Any], config: Any) -> tuple[dict[str, Any], Any, InitExtras]:
    """Our settings arguments, the config to use and what to do after opening, from ``init()``'s arguments
    (ours and W&B's). ``arguments`` is changed in place.

    Raises:
        SettingsError: a W&B option of the wrong type, or options W&B too refuses together.
    """
    extras = InitExtras()
    _from_settings(arguments, extras)
    wandb = {name: arguments.pop(name) for name in WANDB_ONLY if name in arguments}
    extras.save_code = _bool("save_code", wandb.get("save_code"))
    extras.allow_val_change = _bool("allow_val_change", wandb.get("allow_val_change"))
    for name, reason in NO_EFFECT.items():
        value = wandb.get(name)
        if value is not None and value is not False and value != "never":
            warn_once(name, f"tracker: init({name}={value!r}) has no effect here: {reason}.")
    config = _filter_config(_with_files(config), _keys("config_include_keys", wandb.get("config_include_keys")),
                            _keys("config_exclude_keys", wandb.get("config_exclude_keys")))
    _translate_words(arguments, extras)
    _branch_points(arguments, wandb, extras)
    return arguments, config, extras


def _translate_words(arguments: dict[str, Any], extras: InitExtras) -> None:
    """W&B's values of our own options: resume, reinit and mode."""
    resume = arguments.get("resume")
    if resume is False:
        arguments["resume"] = None
    elif resume is True:
        arguments["resume"] = "auto"  # W&B: True is "auto" (the store's last unfinished run, else a new one)
    reinit = arguments.get("reinit")
    if reinit is True:
        arguments["reinit"] = "finish_previous"
    elif reinit is False:
        arguments["reinit"] = "return_previous"
    elif reinit == "default":
        arguments["reinit"] = None
    elif reinit == "create_new":
        arguments["reinit"], extras.create_new = None, True
    mode = arguments.get("mode")
    if mode == "dryrun":
        arguments["mode"] = "offline"
    elif mode in ("online", "shared", "run"):  # online where a server is configured, even over WANDB_MODE=offline
        arguments["mode"], extras.asked_online = "online" if _server_configured(arguments) else None, True


def _server_configured(arguments: Mapping[str, Any]) -> bool:
    """Whether init's arguments, TRACKER_SERVER or a stored ``tracker login`` name a team server."""
    from tracker_core._settings import Settings, _environment
    from tracker_core.sync._credentials import load_credentials

    return bool(arguments.get("server") or _environment(Settings, "server", os.environ) or load_credentials())


def _branch_points(arguments: dict[str, Any], wandb: dict[str, Any], extras: InitExtras) -> None:
    """``resume_from`` (a rewind of the same run) and ``fork_from`` (a new run from another's history)."""
    resume_from, fork_from = wandb.get("resume_from"), wandb.get("fork_from")
    chosen = [name for name, value in (("resume", arguments.get("resume")), ("resume_from", resume_from),
                                       ("fork_from", fork_from)) if value is not None]
    if len(chosen) > 1:
        raise SettingsError(" and ".join(chosen), "cannot be used together (W&B refuses them together too)",
                            "pass only one of resume, resume_from and fork_from")
    if resume_from is not None:
        moment = parse_run_moment("resume_from", resume_from)
        if arguments.get("id") not in (None, moment.run_id):
            raise SettingsError("resume_from", f"names run {moment.run_id!r} but id={arguments['id']!r}",
                                "drop id=, or make it the run to rewind")
        arguments.update(id=moment.run_id, resume="must", resume_from_step=moment.step)
    if fork_from is not None:
        moment = parse_run_moment("fork_from", fork_from)
        if arguments.get("id") == moment.run_id:
            raise SettingsError("fork_from", f"forks run {moment.run_id!r} into itself",
                                "give the new run another id, or use resume_from to rewind that run")
        extras.fork_from = moment

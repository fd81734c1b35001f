"""``run.config``: attribute and item access over the run's hyperparameters."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from tracker_core._errors import ConfigChangeError, SettingsError
from tracker_core._values import Problem, _Rejected, to_tree

__all__ = ["DEFAULTS_FILE", "Config", "ConfigNode", "config_file_values", "is_config_file"]

DEFAULTS_FILE = "config-defaults.yaml"
"""W&B's file of config defaults, read from the current folder by ``init()``."""


class ConfigNode(Mapping[str, Any]):
    """A read-only view of a nested config section: ``cfg.optimizer.name`` or ``cfg["optimizer"]["name"]``."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", data)

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[key])

    def __getattr__(self, key: str) -> Any:
        try:
            return _wrap(self._data[key])
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        raise TypeError("nested config sections are read-only. Hint: use "
                        "config.update({'section': {...}}, allow_val_change=True)")

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"ConfigNode({self._data!r})"


def _wrap(value: Any) -> Any:
    return ConfigNode(value) if isinstance(value, dict) else value


def to_config_dict(values: object, problems: list[Problem]) -> dict[str, Any]:
    """Plain dict from a mapping, namespace, dataclass or object with ``to_dict()``.

    Raises:
        SettingsError: ``values`` is not config-like at all.
    """
    if values is None:
        return {}
    try:
        tree = to_tree(values, problems)
    except _Rejected:
        tree = None
    if not isinstance(tree, dict):
        raise SettingsError("config", f"a {type(values).__name__} is not a mapping",
                            "pass a dict, an argparse.Namespace, a dataclass or an object with to_dict()")
    return tree


def is_config_file(values: object) -> bool:
    """Whether ``values`` names a YAML file (``init(config="config.yaml")``, as W&B takes it)."""
    return isinstance(values, (str, os.PathLike))


def config_file_values(path: str | os.PathLike[str], must_exist: bool = True) -> dict[str, Any] | None:
    """The config in a YAML file, in W&B's shape or plain.

    W&B's shape is ``key: {desc: ..., value: ...}`` (its ``config-defaults.yaml``, and the ``config.yaml``
    of a W&B run): each key gets its ``value``. A top-level value that is not such a mapping is kept as
    it is (W&B refuses it). ``wandb_version`` (which must be 1) and W&B's own ``_wandb`` entry are left
    out. An empty file is an empty config. Without ``must_exist``, a missing file gives None.

    Raises:
        SettingsError: the file is missing (``must_exist``) or unreadable, is not YAML or not a mapping,
            or PyYAML is not installed.
    """
    name = os.fspath(path)
    try:
        import yaml  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise SettingsError("config", f"reading the YAML file {name!r} needs PyYAML",
                            "pip install pyyaml, or pass the config as a dict") from None
    try:
        with open(name, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle)
    except FileNotFoundError:
        if not must_exist:
            return None
        raise SettingsError("config", f"no config file {name!r}", "check the path (relative to the current "
                            f"folder, {os.getcwd()}), or pass the config as a dict") from None
    except OSError as error:
        raise SettingsError("config", f"cannot read {name!r}: {error}", "check the file's permissions") from None
    except yaml.YAMLError as error:
        raise SettingsError("config", f"{name!r} is not valid YAML: {error}", "fix the file") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise SettingsError("config", f"{name!r} holds a {type(loaded).__name__}, not a mapping of keys",
                            "write one 'key: value' (or W&B's 'key: {value: ...}') per line")
    version = loaded.pop("wandb_version", None)
    if version not in (None, 1):
        raise SettingsError("config", f"{name!r} has wandb_version {version!r}", "W&B's config files are version 1")
    loaded.pop("_wandb", None)
    return {str(key): value["value"] if isinstance(value, dict) and "value" in value else value
            for key, value in loaded.items()}


class Config:
    """The run's config. New keys may be added freely; changing a value needs ``allow_val_change``.

    Every change is handed to ``on_change`` (the run records it); bad values inside
    are handed to ``on_problems`` and left out.
    """

    def __init__(self, initial: Mapping[str, Any] | None = None,
                 on_change: Callable[[dict[str, Any]], None] | None = None,
                 on_problems: Callable[[list[Problem]], None] | None = None) -> None:
        object.__setattr__(self, "_data", dict(initial or {}))
        object.__setattr__(self, "_on_change", on_change)
        object.__setattr__(self, "_on_problems", on_problems)
        object.__setattr__(self, "_allow_val_change", False)
        object.__setattr__(self, "_locked", frozenset())

    def lock(self, keys: Mapping[str, Any]) -> None:
        """Lock these top-level keys (a sweep's parameters): a later write of another value is ignored with a
        ``TrackerWarning``, as in W&B."""
        object.__setattr__(self, "_locked", frozenset(keys))

    def allow_all_changes(self) -> None:
        """Let every later update change existing values (``init(allow_val_change=True)``, as in W&B)."""
        object.__setattr__(self, "_allow_val_change", True)

    def update(self, values: object, allow_val_change: bool = False) -> None:
        """Merge top-level keys in and record them. ``values`` may name a YAML file, as in W&B
        (``config.update("extra.yaml")``; see ``config_file_values``).

        Raises:
            ConfigChangeError: an existing key would get a different value.
            SettingsError: ``values`` is not config-like, or a YAML file that cannot be read.
        """
        if is_config_file(values):
            values = config_file_values(values)  # type: ignore[arg-type]
        problems: list[Problem] = []
        incoming = to_config_dict(values, problems)
        if problems and self._on_problems:
            self._on_problems(problems)
        changed = {}
        for key, value in incoming.items():
            if key in self._locked and key in self._data:
                if not _same(self._data[key], value):
                    import warnings

                    from tracker_core._errors import TrackerWarning

                    warnings.warn(f"config[{key!r}] is a sweep parameter, set to {self._data[key]!r} for this trial; "
                                  f"ignoring the new value {value!r}", TrackerWarning, stacklevel=3)
                continue
            if key in self._data and not _same(self._data[key], value):
                if not (allow_val_change or self._allow_val_change):
                    raise ConfigChangeError(key, self._data[key], value)
            elif key in self._data:
                continue
            changed[key] = value
        if changed:
            self._data.update(changed)
            if self._on_change:
                self._on_change(changed)

    def setdefaults(self, values: Mapping[str, Any]) -> None:
        """Add only the keys not set yet (as W&B's ``config.setdefaults``)."""
        self.update({k: v for k, v in values.items() if k not in self._data})

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[key])

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return _wrap(self._data[key])
        except KeyError:
            raise AttributeError(f"config has no key {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        return _wrap(self._data.get(key, default))

    def keys(self) -> Any:
        return self._data.keys()

    def items(self) -> Any:
        return [(k, _wrap(v)) for k, v in self._data.items()]

    def as_dict(self) -> dict[str, Any]:
        """A deep-enough copy of the config as plain dicts."""
        import copy

        return copy.deepcopy(self._data)

    def __repr__(self) -> str:
        return f"Config({self._data!r})"


def _same(old: Any, new: Any) -> bool:
    try:
        return bool(old == new) or (old != old and new != new)  # NaN equals NaN here
    except (TypeError, ValueError):
        return False

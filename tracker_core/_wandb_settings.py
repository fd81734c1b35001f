"""``Settings``: W&B's ``wandb.Settings``, for ``init(settings=...)`` and ``setup(settings=...)``.

It holds keywords as given; ``_wandb_init`` applies those with a meaning here and warns once
about the rest. ``setup(settings=...)`` makes them the defaults of every later ``init()`` in the
process (an ``init()`` argument or its own ``settings=`` wins).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from tracker_core._errors import SettingsError

__all__ = ["Settings", "process_defaults", "set_process_defaults", "settings_dict"]


class Settings:
    """W&B-style settings: any keyword, e.g. ``Settings(console="off", x_disable_stats=True)``.

    ========================================  ====================================================
    W&B setting                               here
    ========================================  ====================================================
    ``project``, ``entity``, ``mode``,        the ``init()`` option of the same meaning
    ``resume``, ``reinit``, ``run_id``,
    ``run_name``, ``run_notes``, ``run_tags``,
    ``run_group``, ``run_job_type``,
    ``root_dir`` (``dir``), ``console``,
    ``silent`` / ``quiet``, ``save_code``,
    ``code_dir``, ``resume_from``,
    ``fork_from``, ``allow_val_change``
    ``x_disable_stats`` / ``_disable_stats``  ``system_interval=0``
    ``x_stats_sampling_interval``             ``system_interval``
    ``disable_git``                           no git provenance
    ``x_disable_meta`` / ``_disable_meta``    no provenance at all
    anything else                             kept, ignored, one warning naming it
    ========================================  ====================================================
    """

    def __init__(self, **settings: Any) -> None:
        object.__setattr__(self, "_values", dict(settings))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"Settings has no {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._values[name] = value

    def update(self, settings: Mapping[str, Any] | Settings | None = None, **more: Any) -> None:
        """Set more keywords (from a dict, another Settings, or keyword arguments)."""
        self._values.update(settings_dict(settings), **more)

    def to_dict(self) -> dict[str, Any]:
        """The keywords given, as a dict."""
        return dict(self._values)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and other._values == self._values

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={'***' if 'key' in k else repr(v)}" for k, v in self._values.items())
        return f"Settings({shown})"


def settings_dict(settings: object) -> dict[str, Any]:
    """The keywords of a ``Settings``, a dict, or None.

    Raises:
        SettingsError: anything else.
    """
    if settings is None:
        return {}
    if isinstance(settings, Settings):
        return settings.to_dict()
    if isinstance(settings, Mapping) and all(isinstance(key, str) for key in settings):
        return dict(settings)
    raise SettingsError("settings", f"a {type(settings).__name__} is not settings",
                        "pass settings=tracker_core.Settings(...) or a dict of setting names")


_lock = threading.Lock()
_defaults: dict[str, Any] = {}


def set_process_defaults(settings: object) -> None:
    """``setup(settings=...)``: these settings apply to every later ``init()`` of the process.

    Raises:
        SettingsError: ``settings`` is neither a Settings nor a dict.
    """
    values = settings_dict(settings)
    with _lock:
        _defaults.update(values)


def process_defaults() -> dict[str, Any]:
    """A copy of the settings given to ``setup()``."""
    with _lock:
        return dict(_defaults)

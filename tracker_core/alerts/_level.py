"""Alert levels, ordered: INFO < WARN < ERROR."""

from __future__ import annotations

import enum

from tracker_core._errors import SettingsError

__all__ = ["AlertLevel", "parse_level"]


class AlertLevel(enum.StrEnum):
    """How urgent an alert is; a target receives the alerts at or above its ``min_level``."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {AlertLevel.INFO: 0, AlertLevel.WARN: 1, AlertLevel.ERROR: 2}


def parse_level(value: object, name: str = "level") -> AlertLevel:
    """An ``AlertLevel`` from itself or its name in any case.

    Raises:
        SettingsError: anything else, naming ``name``.
    """
    if isinstance(value, AlertLevel):
        return value
    if isinstance(value, str) and value.strip().upper() in AlertLevel.__members__:
        return AlertLevel[value.strip().upper()]
    raise SettingsError(name, f"{value!r} is not an alert level",
                        "use AlertLevel.INFO, AlertLevel.WARN or AlertLevel.ERROR (or 'INFO', 'WARN', 'ERROR')")

"""The fidelity report of an import or export: what moved, and what could not be represented."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MOVED_KINDS", "Fidelity"]

MOVED_KINDS = ("runs", "points", "config values", "summary values", "media", "artifacts", "files")


@dataclass
class Fidelity:
    """Counters of one migration. ``moved`` counts by kind (``MOVED_KINDS`` first); ``lost`` counts
    what the destination cannot hold, keyed by (kind, reason); ``errors`` names files or runs that
    could not be read at all (the rest was still moved)."""

    source: str
    destination: str
    moved: Counter[str] = field(default_factory=Counter)
    lost: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def count(self, kind: str, n: int = 1) -> None:
        self.moved[kind] += n

    def drop(self, kind: str, reason: str, n: int = 1) -> None:
        """Record ``n`` items of ``kind`` that could not be represented, and why."""
        self.lost[(kind, reason)] += n

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def merge(self, other: Fidelity) -> None:
        self.moved.update(other.moved)
        self.lost.update(other.lost)
        self.errors.extend(other.errors)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "destination": self.destination, "moved": dict(self._moved_in_order()),
                "not_represented": [{"kind": k, "reason": r, "count": n} for (k, r), n in sorted(self.lost.items())],
                "errors": list(self.errors)}

    def render(self) -> str:
        """A plain-text table for the end of a ``tracker import``/``export`` command."""
        lines = [f"Fidelity: {self.source} -> {self.destination}", "  moved:"]
        lines += [f"    {kind:<16} {n:>12,}" for kind, n in self._moved_in_order()]
        if self.lost:
            lines.append("  not represented on the other side:")
            lines += [f"    {kind:<16} {n:>12,}  {reason}" for (kind, reason), n in sorted(self.lost.items())]
        else:
            lines.append("  not represented on the other side: nothing")
        if self.errors:
            lines.append(f"  could not be read ({len(self.errors)}):")
            lines += [f"    {e}" for e in self.errors]
        return "\n".join(lines)

    def _moved_in_order(self) -> list[tuple[str, int]]:
        known = [(k, self.moved.get(k, 0)) for k in MOVED_KINDS]
        return known + sorted((k, n) for k, n in self.moved.items() if k not in MOVED_KINDS)

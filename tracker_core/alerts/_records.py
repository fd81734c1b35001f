"""Reading alerts back: ``alert`` records joined with their later ``alert_delivery`` records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

__all__ = ["StoredAlert", "stored_alerts"]


class StoredAlert(NamedTuple):
    """An alert as recorded in a run.

    ``status``: ``delivered`` (to every target), ``undelivered`` (some target failed: ``reason``),
    ``suppressed`` (the title was sent within ``wait_duration``: ``reason``), ``pending`` (no outcome
    recorded yet, e.g. the run is live or died before delivery), or ``not_sent`` (no target takes its level).
    """

    seq: int
    time: float
    level: str
    title: str
    text: str
    step: int | None
    source: str
    status: str
    reason: str | None
    deliveries: list[dict[str, Any]]  # target, delivered, attempts, reason


def stored_alerts(records: Iterable[dict[str, Any]]) -> list[StoredAlert]:
    """The run's alerts in log order, each with its delivery outcomes."""
    alerts: dict[int, dict[str, Any]] = {}
    outcomes: dict[int, list[dict[str, Any]]] = {}
    for record in records:
        kind = record.get("type")
        if kind == "alert" and type(record.get("seq")) is int:
            alerts[record["seq"]] = record
        elif kind == "alert_delivery" and type(record.get("alert")) is int:
            outcomes.setdefault(record["alert"], []).append(
                {k: record.get(k) for k in ("target", "delivered", "attempts", "reason")})
    return [_stored(seq, record, outcomes.get(seq, [])) for seq, record in alerts.items()]


def _stored(seq: int, record: dict[str, Any], deliveries: list[dict[str, Any]]) -> StoredAlert:
    targets = record.get("targets") or []
    failed = [d for d in deliveries if not d["delivered"]]
    reason = None
    if record.get("suppressed"):
        status, reason = "suppressed", str(record["suppressed"])
    elif not targets:
        status, reason = "not_sent", "no delivery target takes this level"
    elif failed:
        status = "undelivered"
        reason = "; ".join(f"{d['target']}: {d['reason']}" for d in failed)
    elif len(deliveries) < len(targets):
        status = "pending"
    else:
        status = "delivered"
    return StoredAlert(seq=seq, time=float(record.get("t") or 0.0), level=str(record.get("level")),
                       title=str(record.get("title")), text=str(record.get("text") or ""), step=record.get("step"),
                       source=str(record.get("source") or "user"), status=status, reason=reason,
                       deliveries=deliveries)

"""``tracker sweep``, ``tracker agent`` and ``tracker sweeps``: sweeps from the command line (the local store's, or
the team server's when one is configured)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tracker_core._errors import SettingsError
from tracker_core.cli._format import emit_json, print_rows, value_text

__all__ = ["CONTROL", "agent", "sweep", "sweeps"]

CONTROL = {"status": None, "pause": "paused", "resume": "running", "stop": "finished", "cancel": "cancelled"}
"""``tracker sweep ACTION SWEEP_ID``: the sweep state each action sets (``stop``: no new trials, running ones
finish; ``cancel``: no new trials, running ones are stopped)."""
_ALLOWED_FROM = {"paused": ("running",), "running": ("paused",), "finished": ("running", "paused"),
                 "cancelled": ("running", "paused", "finished")}




def sweep(_: object, args: argparse.Namespace) -> int:
    """``tracker sweep FILE -p PROJECT`` creates a sweep; ``tracker sweep ACTION SWEEP_ID`` controls one."""
    from tracker_core import sweeps

    if args.target in CONTROL and args.sweep_id:
        return _control(args)
    if args.sweep_id:
        raise SettingsError("sweep", f"{args.target!r} is not one of {', '.join(CONTROL)}",
                            "tracker sweep FILE -p PROJECT, or tracker sweep status|pause|resume|stop|cancel ID")
    sweep_id = sweeps.sweep(args.target, entity=args.entity, project=args.project, dir=args.dir)
    ctl = sweeps.controller(sweep_id, dir=args.dir)
    ctl.store.close()
    record = ctl.sweep
    path = "/".join(p for p in (record.entity, record.project, record.id) if p)
    if args.json:
        emit_json({"id": record.id, "path": path})
        return 0
    print(f"tracker: created sweep {sweep_id} in project {record.project}", file=sys.stderr)
    print(f"tracker: run an agent with: tracker agent {path}", file=sys.stderr)
    print(record.id)
    return 0


def _control(args: argparse.Namespace) -> int:
    from tracker_core import sweeps

    ctl = sweeps.controller(args.sweep_id, dir=args.dir)
    target = CONTROL[args.target]
    if target is not None:
        current = ctl.state()
        if current != target:
            if current not in _ALLOWED_FROM[target]:
                raise SettingsError(f"sweep {args.target}", f"the sweep is {current}",
                                    "a finished or cancelled sweep stays so; create a new sweep")
            ctl.store.set_state(ctl.sweep.id, target)
    status = _status(ctl)
    if args.json:
        emit_json(status)
        return 0
    print(f"sweep {status['id']} ({status['method']}, project {status['project']}): {status['state']}")
    counts = ", ".join(f"{n} {state}" for state, n in sorted(status["trials"].items())) or "no trials yet"
    print(f"trials: {counts}")
    if status["best"]:
        best = status["best"]
        print(f"best {status['metric']}: {value_text(best['value'])} (run {best['run_id']}, trial {best['number']})")
    return 0


def _status(ctl: Any) -> dict[str, Any]:
    record, config = ctl.sweep, ctl.config
    trials = ctl.trials()
    best = None
    if config.metric is not None:
        scored = [t for t in trials if t.state == "finished" and t.value is not None]
        if scored:
            pick = min if config.metric.goal == "minimize" else max
            top = pick(scored, key=lambda t: t.value)
            best = {"run_id": top.run_id, "number": top.number, "value": top.value, "params": top.params}
    return {"id": record.id, "name": record.name, "project": record.project, "entity": record.entity,
            "method": config.method, "state": ctl.state(), "metric": config.metric.name if config.metric else None,
            "trials": ctl.store.counts(record.id), "best": best, "run_cap": config.run_cap}


def agent(_: object, args: argparse.Namespace) -> int:
    """``tracker agent [ENTITY/PROJECT/]SWEEP_ID --count N``: run the config's command, one trial at a time."""
    from tracker_core import sweeps

    ran = sweeps.agent(args.sweep_id, count=args.count, dir=args.dir, retry_crashed=args.retry_crashed)
    print(f"tracker agent: ran {ran} trial{'s' if ran != 1 else ''}", file=sys.stderr)
    return 0


def sweeps(_: object, args: argparse.Namespace) -> int:
    """``tracker sweeps -p PROJECT``: the store's sweeps (the team server's, when one is configured), newest last."""
    from tracker_core import sweeps as api
    from tracker_core.sweeps._store import SweepStore

    rows: list[dict[str, Any]] = []
    online = api._online(args.dir)
    if online is not None:  # the team server's sweeps of the project
        from tracker_core.sweeps._remote import list_remote_sweeps, server_client

        client = server_client(online)
        try:
            rows = list_remote_sweeps(client, online.entity, args.project or online.project)
        finally:
            client.close()
    else:
        store = SweepStore(api._root(args.dir))
        for record in store.sweeps(args.project):
            counts = store.counts(record.id)
            rows.append({"id": record.id, "name": record.name, "project": record.project, "state": record.state,
                         "method": record.config.get("method"), "trials": sum(counts.values()), "counts": counts})
    return print_rows(rows, args.json, "sweeps", ["sweep", "name", "project", "method", "state", "trials"],
                      lambda r: [r["id"], value_text(r["name"]), r["project"], r["method"], r["state"],
                                 str(r["trials"])])

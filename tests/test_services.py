"""Background services (tracker_core._services): registered once, started with every writing run, stopped
before or after the final status record, told when the process forks, and never able to break a run."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _procs import Child, events, only_run

import tracker_core
from tracker_core import _services
from tracker_core._errors import TrackerWarning
from tracker_core._services import ServiceContext, ServiceFactory

pytestmark = pytest.mark.timeout(120)

PROJECT = "services"


def _records(log_path: str) -> list[dict[str, Any]]:
    data = Path(log_path).read_bytes()
    return [json.loads(line) for line in data.split(b"\n")[:-1] if line]


class Probe:
    """A service that notes what it was told and what the log held at each moment."""

    name = "probe"

    def __init__(self, context: ServiceContext) -> None:
        self.context = context
        self.calls: list[str] = []
        self.seen_at_stop: list[dict[str, Any]] = []
        self.append_at_stop: bool | None = None
        self.forked_called = False

    def start(self) -> None:
        self.calls.append("start")
        thread = threading.Thread(target=lambda: self.context.append({"type": "probe", "from": "thread"}))
        thread.start()
        thread.join()

    def stop(self, deadline: float) -> None:
        self.calls.append("stop")
        assert deadline > time.monotonic()
        self.seen_at_stop = _records(self.context.log_path)
        self.append_at_stop = self.context.append({"type": "probe", "from": "stop"})

    def forked(self) -> None:
        self.forked_called = True


@pytest.fixture
def made() -> Iterator[tuple[list[Probe], list[ServiceFactory]]]:
    """The probes made by factories registered through ``registered``; every factory unregistered afterwards."""
    probes: list[Probe] = []
    factories: list[ServiceFactory] = []
    yield probes, factories
    for factory in factories:
        _services.unregister(factory)


def _register(made: tuple[list[Probe], list[ServiceFactory]], *, after_final: bool) -> None:
    probes, factories = made

    def factory(context: ServiceContext) -> Probe:
        probe = Probe(context)
        probes.append(probe)
        return probe

    factories.append(factory)
    _services.register(factory, after_final=after_final)


def test_a_registered_service_starts_with_the_run_and_gets_its_context(made: Any) -> None:
    _register(made, after_final=False)
    run = tracker_core.init(project=PROJECT, entity="team-a", name="first", provenance_exclude=["all"])
    [probe] = made[0]
    context = probe.context
    assert probe.calls == ["start"]
    assert (context.run_id, context.project, context.entity) == (run.id, PROJECT, "team-a")
    assert context.run_dir == run.dir
    assert context.log_path == os.path.join(run.dir or "", "events.jsonl")
    assert context.settings is run.settings
    meta = context.meta()
    assert meta["name"] == "first" and meta["status"] == "running"
    meta["name"] = "changed"  # a copy: the run's own metadata is untouched
    assert context.meta()["name"] == "first"
    run.finish()
    written = events(only_run(PROJECT))
    from_thread = [r for r in written if r["type"] == "probe" and r["from"] == "thread"]
    assert len(from_thread) == 1 and from_thread[0]["seq"] > 0 and "t" in from_thread[0]
    assert [r["seq"] for r in written] == list(range(1, len(written) + 1))


def test_a_service_stops_before_the_final_status_and_may_still_append(made: Any) -> None:
    _register(made, after_final=False)
    tracker_core.init(project=PROJECT, provenance_exclude=["all"]).finish()
    [probe] = made[0]
    assert probe.calls == ["start", "stop"]
    assert [r["status"] for r in probe.seen_at_stop if r["type"] == "status"] == ["running"]
    assert probe.append_at_stop is True
    written = events(only_run(PROJECT))
    assert written[-1]["type"] == "status" and written[-1]["status"] == "finished"
    assert any(r["type"] == "probe" and r["from"] == "stop" for r in written[:-1])


def test_an_after_final_service_stops_after_the_final_status_and_the_closed_log(made: Any) -> None:
    _register(made, after_final=True)
    _register(made, after_final=False)
    tracker_core.init(project=PROJECT, provenance_exclude=["all"]).finish(exit_code=3)
    after, before = made[0]
    assert after.calls == before.calls == ["start", "stop"]
    assert after.seen_at_stop[-1]["type"] == "status" and after.seen_at_stop[-1]["status"] == "failed"
    assert after.append_at_stop is False  # the log is closed; nothing more goes into it
    assert any(r["type"] == "probe" and r["from"] == "stop" for r in after.seen_at_stop)  # the other one's
    assert events(only_run(PROJECT)) == after.seen_at_stop


def test_a_factory_may_decline_and_runs_that_write_nothing_start_no_service(made: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    made[1].append(declined := lambda context: None)
    _services.register(declined)
    _register(made, after_final=False)
    tracker_core.init(project=PROJECT, mode="disabled").finish()
    monkeypatch.setenv("RANK", "1")
    tracker_core.init(project=PROJECT).finish()
    assert made[0] == []
    monkeypatch.delenv("RANK")
    tracker_core.init(project=PROJECT, provenance_exclude=["all"]).finish()
    assert [probe.calls for probe in made[0]] == [["start", "stop"]]


class Failing:
    def __init__(self, where: str) -> None:
        self.name = f"failing-{where}"
        self.where = where

    def start(self) -> None:
        if self.where == "start":
            raise RuntimeError("cannot start")

    def stop(self, deadline: float) -> None:
        if self.where == "stop":
            raise RuntimeError("cannot stop")

    def forked(self) -> None:
        pass


@pytest.mark.parametrize("where", ["factory", "start", "stop"])
def test_a_raising_service_is_warned_about_once_and_the_run_still_finishes(made: Any, where: str) -> None:
    def factory(context: ServiceContext) -> Failing:
        if where == "factory":
            raise RuntimeError("cannot make")
        return Failing(where)

    made[1].append(factory)
    _services.register(factory, after_final=where == "stop")
    _register(made, after_final=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = tracker_core.init(project=PROJECT, provenance_exclude=["all"])
        run.log({"loss": 1.0})
        run.finish()
    messages = [str(w.message) for w in caught if issubclass(w.category, TrackerWarning)]
    assert len(messages) == 1, messages
    assert "background service" in messages[0] and "cannot" in messages[0]
    stored = only_run(PROJECT)
    assert stored.status == "finished"
    assert [row["loss"] for row in stored.history()] == [1.0]
    assert made[0][0].calls == ["start", "stop"]  # the other service is unaffected


def test_the_same_factory_registered_twice_starts_once(made: Any) -> None:
    _register(made, after_final=False)
    _services.register(made[1][0])
    tracker_core.init(project=PROJECT, provenance_exclude=["all"]).finish()
    assert len(made[0]) == 1


def test_detach_stops_services_around_the_detach_record(made: Any) -> None:
    _register(made, after_final=False)
    _register(made, after_final=True)
    run = tracker_core.init(project=PROJECT, provenance_exclude=["all"])
    run.detach()
    before, after = made[0]
    assert before.calls == after.calls == ["start", "stop"]
    assert all(r["type"] != "detach" for r in before.seen_at_stop)
    assert after.seen_at_stop[-1]["type"] == "detach"
    assert only_run(PROJECT).status == "running"  # handed over, not ended


def test_a_forked_child_tells_the_services_and_they_are_not_stopped_there(made: Any) -> None:
    _register(made, after_final=False)
    run = tracker_core.init(project=PROJECT, provenance_exclude=["all"], heartbeat_interval=600)
    [probe] = made[0]
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what the service was told, then leave without exit hooks
        try:
            os.close(read_fd)
            run.finish()  # a forked child's run writes nothing and stops nothing
            os.write(write_fd, json.dumps([probe.forked_called, probe.calls]).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        forked_called, calls = json.loads(pipe.read().decode())
    os.waitpid(pid, 0)
    assert forked_called is True and calls == ["start"]
    assert probe.forked_called is False  # the parent's service was not told anything
    run.finish()
    assert probe.calls == ["start", "stop"]
    assert only_run(PROJECT).status == "finished"


KILLED_CHILD = """
    import json, sys
    from tracker_core import _services

    class Tail:
        name = "tail"
        def __init__(self, context):
            self.context = context
        def start(self):
            pass
        def stop(self, deadline):
            with open(self.context.log_path, "rb") as log, open(sys.argv[1], "w") as out:
                out.write(log.read().decode().splitlines()[-1])
        def forked(self):
            pass

    _services.register(Tail, after_final=True)
    import tracker_core

    run = tracker_core.init(project="services")
    run.log({"loss": 0.5})
    print("ready", flush=True)
    sys.stdin.readline()
"""


def test_a_run_killed_by_sigterm_stops_after_final_services_after_its_killed_status(tmp_path: Path) -> None:
    seen = tmp_path / "last_record.json"
    with Child(tmp_path, KILLED_CHILD, str(seen)) as child:
        child.expect("ready")
        # at once: its services are still starting (provenance, system metrics: see _workers' signal mask)
        child.proc.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) == -signal.SIGTERM, child.stderr
    last = json.loads(seen.read_text())
    assert (last["type"], last["status"], last["signal"]) == ("status", "killed", "SIGTERM")
    assert only_run(PROJECT).status == "killed"

"""The agent: claims trials from the controller and runs them, in-process (``agent(function=...)``) or as the
config's ``command`` in a child process (``tracker agent``).

While a trial runs, a watcher thread tails the trial run's log (the log is the source of truth): each value of
the sweep metric is one hyperband iteration, reported to Optuna's pruner as it arrives. When the pruner (or
``tracker sweep cancel``) stops the trial, the run is asked to stop: ``run.should_stop`` turns true and its
next ``log()`` raises ``RunStopped``. A command trial's child learns it from a stop file; if it is still alive
``TRACKER_AGENT_KILL_DELAY`` seconds later the agent sends SIGTERM, and SIGKILL after as many again.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union

import orjson

from tracker_core._errors import RunStopped
from tracker_core.sweeps._command import expand_command
from tracker_core.sweeps._controller import Claim, Controller
from tracker_core.sweeps._trial import Trial, handed_over

if TYPE_CHECKING:
    from tracker_core.sweeps._remote import RemoteController

AnyController = Union[Controller, "RemoteController"]
"""The local store's controller, or the team server's."""
__all__ = ["TrialWatch", "run_agent"]

_POLL = 0.05
_PAUSE_POLL = 0.5


class TrialWatch(threading.Thread):
    """Tails one trial's ``events.jsonl``: feeds the pruner, follows the sweep's state, calls ``on_stop`` once."""

    def __init__(self, controller: AnyController, claim: Claim, on_stop: Callable[[str], None]) -> None:
        super().__init__(name="tracker-sweep-watch", daemon=True)
        assert claim.trial is not None
        self._controller = controller
        self._claim = claim
        self._trial: Trial = claim.trial
        self._on_stop = on_stop
        self._done = threading.Event()
        self._path: str | None = None
        self._offset = 0
        self._partial = b""
        self.iterations = 0
        self.last_value: float | None = None
        self.stop_reason: str | None = None
        metric = controller.config.metric
        self._metric = metric.name if metric else None
        self._prune = controller.config.hyperband is not None
        self._sweep_state, self._close_probe = controller.state_probe(self._trial.number)  # its own connection

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=10)
        self._read()  # what the run wrote after the last look
        self._close_probe()

    def run(self) -> None:
        checked = time.monotonic()  # the claim was the first look (and, on a server, the first heartbeat)
        while not self._done.wait(_POLL):
            try:
                values = self._read()
                if values and self._prune and self.stop_reason is None:
                    self._feed(values)
                now = time.monotonic()
                if now - checked > 1.0:  # also the agent's heartbeat for the trial on a server sweep
                    checked = now
                    if self._sweep_state() == "cancelled" and self.stop_reason is None:
                        self._ask_stop("the sweep was cancelled")
            except Exception as exc:  # noqa: BLE001 - a watcher failure must not end the trial
                print(f"tracker agent: watching trial {self._trial.number} failed: {exc!r}", file=sys.stderr)
                return

    def _feed(self, values: list[float]) -> None:
        for value in values:
            self.iterations += 1
            if self._claim.optuna_trial_id is not None and self._controller.report(
                    self._claim.optuna_trial_id, value, self.iterations):
                self._ask_stop(f"hyperband stopped it at iteration {self.iterations} of {self._metric}")
                return

    def _ask_stop(self, reason: str) -> None:
        self.stop_reason = reason
        self._on_stop(reason)

    def _read(self) -> list[float]:
        """The sweep metric's values in the records appended since the last call."""
        if self._path is None:
            found = glob.glob(os.path.join(glob.escape(self._trial.dir), "*", self._trial.run_id, "events.jsonl"))
            if not found:
                return []
            self._path = found[0]
        try:
            with open(self._path, "rb") as file:
                file.seek(self._offset)
                chunk = file.read()
        except OSError:
            return []
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        values = []
        for line in lines:
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if record.get("type") != "log" or self._metric is None:
                continue
            value = record.get("data", {}).get(self._metric)
            if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
                values.append(float(value))
        if values:
            self.last_value = values[-1]
        return values


def _run_outcome(root: str, trial: Trial, metric: str | None, watch: TrialWatch) -> tuple[str, float | None]:
    """The trial run's final state (from its run.json, crashed inferred) and the metric's summary value."""
    from tracker_core.api import Api

    found = glob.glob(os.path.join(glob.escape(root), "*", trial.run_id, "run.json"))
    if not found:
        return "failed", None  # the trial never started its run
    project = os.path.basename(os.path.dirname(os.path.dirname(found[0])))
    stored = Api(root).run(f"{project}/{trial.run_id}")
    state = stored.state
    value = watch.last_value
    if metric is not None:
        summary_value = stored.summary.get(metric)
        if isinstance(summary_value, int | float) and not isinstance(summary_value, bool):
            value = float(summary_value)
    if state == "running":  # the process is gone: nothing more will come
        state = "crashed"
    return state, value


def _in_process(controller: AnyController, claim: Claim, function: Callable[[], Any]) -> tuple[str, float | None]:
    trial = claim.trial
    assert trial is not None
    watch = TrialWatch(controller, claim, trial.request_stop)
    handed_over(trial)
    watch.start()
    try:
        function()
    except RunStopped:
        pass
    except Exception:  # noqa: BLE001 - W&B's agent too reports a failed trial and goes on
        traceback.print_exc()
        _close(trial, sys.exc_info())
    except BaseException:  # KeyboardInterrupt: the run ends killed, and the agent stops
        _close(trial, sys.exc_info())
        raise
    finally:
        handed_over(None)
        _close(trial, (None, None, None))
        watch.stop()
    metric = controller.config.metric
    return _run_outcome(controller.store.root, trial, metric.name if metric else None, watch)


def _close(trial: Trial, exc_info: Any) -> None:
    """End the run the trial's function left open, as ``with run:`` would (stopped when it was asked to)."""
    run = trial.run
    if run is None or run._records.inactive is not None:
        return
    if run.should_stop:
        run._end_stopped()
    else:
        run.__exit__(*exc_info)


def _die_with_parent() -> None:  # in the child, before exec: SIGTERM when the agent dies (Linux)
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _command(controller: AnyController, claim: Claim, kill_delay: float) -> tuple[str, float | None]:
    trial = claim.trial
    assert trial is not None
    folder = os.path.join(controller.store.folder, "trials", trial.sweep_id, str(trial.number))
    os.makedirs(folder, exist_ok=True)
    stop_file = trial.stop_file = os.path.join(folder, "stop")
    trial_file = os.path.join(folder, "trial.json")
    args_file = os.path.join(folder, f"config-{trial.run_id}.json")
    with open(args_file, "w", encoding="utf-8") as file:
        json.dump(trial.params, file)
    with open(trial_file, "w", encoding="utf-8") as file:
        json.dump(trial.to_json(), file)
    config = controller.config
    argv = expand_command(config.command, config.program, trial.params, args_file)
    asked: list[float] = []

    def ask_to_stop(reason: str) -> None:
        with open(stop_file + ".tmp", "w", encoding="utf-8") as file:
            file.write(reason)
        os.replace(stop_file + ".tmp", stop_file)
        asked.append(time.monotonic())

    env = {**os.environ, "TRACKER_SWEEP_TRIAL": trial_file}
    print(f"tracker agent: trial {trial.number} (run {trial.run_id}): {' '.join(argv)}", file=sys.stderr)
    try:
        child = subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent)
    except OSError as exc:  # the command's executable is missing: this trial fails, the agent goes on
        print(f"tracker agent: cannot start {argv[0]!r}: {exc.strerror}", file=sys.stderr)
        return "failed", None
    watch = TrialWatch(controller, claim, ask_to_stop)
    watch.start()
    sent = 0
    try:
        while child.poll() is None:
            time.sleep(_POLL)
            if asked and sent < 2 and time.monotonic() - asked[0] >= kill_delay * (sent + 1):
                child.send_signal(signal.SIGTERM if sent == 0 else signal.SIGKILL)
                sent += 1
    except BaseException:
        child.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(kill_delay)
        child.kill()
        raise
    finally:
        watch.stop()
    state, value = _run_outcome(controller.store.root, trial, config.metric.name if config.metric else None, watch)
    if sent == 2 and state == "crashed":  # SIGKILLed after the stop request: it was stopped
        state = "stopped"
    return state, value


def run_agent(controller: AnyController, function: Callable[[], Any] | None, count: int | None,
              kill_delay: float, wait_while_paused: bool = True) -> int:
    """Run trials until ``count`` is reached or the controller has none; returns how many ran. In-process
    trials share one provenance (git, packages: the code this process runs), collected by the first."""
    if function is None:
        return _run_trials(controller, function, count, kill_delay, wait_while_paused)
    from tracker_core._provenance import shared_by_runs

    with shared_by_runs():
        return _run_trials(controller, function, count, kill_delay, wait_while_paused)


def _run_trials(controller: AnyController, function: Callable[[], Any] | None, count: int | None,
                kill_delay: float, wait_while_paused: bool) -> int:
    done = 0
    while count is None or done < count:
        claim = controller.next_trial()
        if claim.trial is None:
            if claim.reason == "paused" and wait_while_paused:
                time.sleep(_PAUSE_POLL)
                continue
            print(f"tracker agent: no more trials ({claim.reason})", file=sys.stderr)
            break
        state, value = "crashed", None
        try:
            if function is not None:
                state, value = _in_process(controller, claim, function)
            else:
                state, value = _command(controller, claim, kill_delay)
        except KeyboardInterrupt:
            state = "killed"
            raise
        finally:
            controller.end_trial(claim.trial, claim.optuna_trial_id, state, value)
        done += 1
    return done

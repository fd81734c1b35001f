"""Helpers for tests that run real child processes.

A child is a script written to the test's ``tmp_path`` and run with the interpreter running
the tests, in the environment the ``store`` fixture set up (its TRACKER_* variables included).
SIGINT and SIGTERM start at their default disposition in every child, as in a terminal, even
when the test runner itself was started with SIGINT ignored (a background job).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import tracker_core

__all__ = ["Child", "child_env", "events", "only_run", "requires_torch", "run_command", "run_script", "write_script"]

requires_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                    reason="needs torch (the 'torch' or 'dev' extra)")


def child_env(**extra: str) -> dict[str, str]:
    """A copy of this process's environment (the fixture's TRACKER_* included) plus ``extra``."""
    env = os.environ.copy()
    env["PYTHONFAULTHANDLER"] = "1"  # a child that hangs prints its threads' stacks on SIGABRT (see Child.wait)
    env.update(extra)
    return env


def write_script(tmp_path: Path, body: str, name: str = "child.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())  # none blocked, whatever the forking thread blocked


def run_command(command: list[str], *, env: dict[str, str] | None = None, timeout: float = 60.0,
                cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to its end in its own process group; the whole group is killed after ``timeout``."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=env if env is not None else child_env(), cwd=cwd, start_new_session=True,
                            preexec_fn=_default_signals, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{command} ran past {timeout} s\nstdout:\n{out}\nstderr:\n{err}") from None
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def run_script(tmp_path: Path, body: str, *args: str, env: dict[str, str] | None = None,
               timeout: float = 60.0, name: str = "child.py") -> subprocess.CompletedProcess[str]:
    """Write ``body`` as a script and run it to its end with ``args``."""
    script = write_script(tmp_path, body, name)
    return run_command([sys.executable, str(script), *args], env=env, timeout=timeout, cwd=tmp_path)


class Child:
    """A child script still running: its stdout lines are read by a thread, its stderr goes to a file."""

    def __init__(self, tmp_path: Path, body: str, *args: str, env: dict[str, str] | None = None,
                 name: str = "child.py", stdout_path: Path | None = None) -> None:
        script = write_script(tmp_path, body, name)
        self._stderr_path = tmp_path / f"{name}.stderr"
        self._stderr = open(self._stderr_path, "wb")  # noqa: SIM115 - closed in close()
        self._lines: queue.Queue[str | None] = queue.Queue()
        stdout: Any = subprocess.PIPE if stdout_path is None else open(stdout_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, str(script), *args], stdout=stdout, stderr=self._stderr,
                                     stdin=subprocess.PIPE, env=env if env is not None else child_env(),
                                     cwd=tmp_path, start_new_session=True, preexec_fn=_default_signals)
        if stdout_path is None:
            threading.Thread(target=self._read, daemon=True).start()
        else:
            stdout.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self._lines.put(raw.decode("utf-8", errors="replace").rstrip("\n"))
        self._lines.put(None)

    @property
    def stderr(self) -> str:
        self._stderr.flush()
        return self._stderr_path.read_text(errors="replace")

    def expect(self, prefix: str, timeout: float = 30.0) -> str:
        """Wait for a stdout line starting with ``prefix``; fail if the child exits or is silent too long."""
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {prefix!r} from the child in {timeout} s\nstderr:\n{self.stderr}") from None
            if line is None:
                self.proc.wait(timeout=10)
                raise AssertionError(f"the child exited ({self.proc.returncode}) before printing {prefix!r}\n"
                                     f"stderr:\n{self.stderr}")
            if line.startswith(prefix):
                return line

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def wait(self, timeout: float = 30.0) -> int:
        """The child's exit status (negative: the signal that ended it); after ``timeout`` fails with what the
        child was doing: its signal masks and every thread's stack (SIGABRT, which ``PYTHONFAULTHANDLER``
        makes Python print), then kills it."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            state = self._signal_state()
            self.proc.send_signal(signal.SIGABRT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
            self.kill()
            raise AssertionError(f"the child did not exit within {timeout} s\n{state}\n"
                                 f"stderr:\n{self.stderr}") from None

    def _signal_state(self) -> str:
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return "(no /proc status)"
        return " ".join(line for line in status.splitlines() if line.startswith(("State", "Threads", "Sig", "ShdPnd")))

    def kill(self) -> None:
        """SIGKILL the child (if still running) and reap it, so readers see a dead pid, not a zombie."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def close(self) -> None:
        self.kill()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self._stderr.close()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def only_run(project: str) -> tracker_core.StoredRun:
    """The single run of ``project`` in the fixture's store."""
    runs = tracker_core.Api().runs(project)
    assert len(runs) == 1, f"expected exactly one run in {project!r}, found {runs}"
    return runs[0]


def events(run: tracker_core.StoredRun) -> list[dict[str, Any]]:
    """Every complete record of the run's log, parsed without tracker_core's reader."""
    data = Path(run.dir, "events.jsonl").read_bytes()
    return [json.loads(line) for line in data.split(b"\n")[:-1] if line]

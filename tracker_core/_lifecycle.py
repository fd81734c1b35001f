"""Process-wide hooks that give every run a true final state.

Installed once, on the first run (signal handlers only from the main thread):

- ``atexit``: finishes live runs (``finished``; ``failed`` after ``sys.exit(n)``;
  ``killed`` after a signal that the program did not outlive).
- ``sys.excepthook``: an uncaught exception marks live runs ``failed`` with the
  traceback (``killed`` for KeyboardInterrupt), then calls the previous hook.
- ``sys.exit`` is wrapped to remember the exit code, then calls the original.
- SIGTERM and SIGINT: the signal is recorded at once. A previous Python handler is
  then called (so KeyboardInterrupt still happens, and a notebook cell may catch it
  and go on without ending the run). A previous default action finishes the runs
  as ``killed`` and re-raises the signal, so the process dies as it would have.
  A signal that lands while the main thread is inside a run's write is handled
  right after that write; one that lands while another thread writes waits for that write.

None of it acts in a forked child: each run knows the pid that owns it.
"""

from __future__ import annotations

import atexit
import builtins
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, Protocol

__all__ = ["LiveRun", "handle_deferred_signal", "register", "stands_in_for_default_action", "takes_run_locks",
           "unregister"]

_HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class LiveRun(Protocol):
    """What the hooks need from a run."""

    owner_pid: int

    def note_signal(self, signum: int, wait: float = ...) -> bool: ...  # False: busy, try again after its write

    def finish_from_hook(self, status: str, exit_code: int, traceback_text: str | None = None,
                         signal_name: str | None = None) -> None: ...

    def ended_by_signal(self) -> int | None: ...


_lock = threading.Lock()
_runs: list[LiveRun] = []
_installed = False
_signals_installed = False
_previous_handlers: dict[int, Any] = {}
_previous_excepthook: Callable[..., Any] | None = None
_original_exit: Callable[..., Any] | None = None
_exit_code: int | None = None
_deferred: list[int] = []
_traceback: Any = None  # the traceback module, imported with the hooks: importing it inside an
# excepthook during a KeyboardInterrupt makes CPython 3.11 exit with 1 instead of dying by SIGINT


def format_exception(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> str:
    global _traceback
    if _traceback is None:
        import traceback as _traceback
    return "".join(_traceback.format_exception(kind, value, tb))


def register(run: LiveRun) -> None:
    """Track a live run; installs the hooks on first use (signals only from the main thread)."""
    global _installed
    with _lock:
        if not _installed:
            _install_process_hooks()
            _installed = True
        if threading.current_thread() is threading.main_thread():
            _install_signal_handlers()
        _runs.append(run)


def unregister(run: LiveRun) -> None:
    with _lock:
        if run in _runs:
            _runs.remove(run)


def _owned_runs() -> list[LiveRun]:
    pid = os.getpid()
    with _lock:
        return [run for run in _runs if run.owner_pid == pid]


def _install_process_hooks() -> None:
    global _previous_excepthook, _original_exit, _traceback
    import traceback as _traceback

    atexit.register(_at_exit)
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    _original_exit = sys.exit
    sys.exit = _exit  # type: ignore[assignment]
    for name in ("exit", "quit"):  # the site module's exit()/quit() helpers, used in scripts too
        helper = getattr(builtins, name, None)
        if helper is not None:
            setattr(builtins, name, _ExitCodeRecorder(helper))


class _ExitCodeRecorder:
    def __init__(self, helper: Callable[..., Any]) -> None:
        self._helper = helper

    def __call__(self, code: Any = None) -> None:
        _remember_exit_code(code)
        self._helper(code)

    def __repr__(self) -> str:
        return repr(self._helper)


def _install_signal_handlers() -> None:
    global _signals_installed
    if _signals_installed:
        return
    for signum in _HANDLED_SIGNALS:
        previous = signal.getsignal(signum)
        if previous in (signal.SIG_IGN, None) or previous is _on_signal:
            continue  # ignored signals stay ignored; None means a handler we cannot chain
        _previous_handlers[signum] = previous
        signal.signal(signum, _on_signal)
    _signals_installed = True


def _remember_exit_code(code: Any) -> None:
    global _exit_code
    if code is None:
        _exit_code = 0
    elif isinstance(code, int):
        _exit_code = code
    else:
        _exit_code = 1  # sys.exit("message") exits with status 1


def _exit(code: Any = None) -> None:
    """sys.exit that remembers its code for the runs' final state."""
    _remember_exit_code(code)
    if _original_exit is None:
        raise SystemExit(code)
    _original_exit(code)


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    text = format_exception(kind, value, tb)
    for run in _owned_runs():
        if issubclass(kind, KeyboardInterrupt):
            run.finish_from_hook("killed", 128 + signal.SIGINT, text, "SIGINT")
        else:
            run.finish_from_hook("failed", 1, text)
    hook = _previous_excepthook or sys.__excepthook__
    hook(kind, value, tb)


def _at_exit() -> None:
    for run in _owned_runs():
        signum = run.ended_by_signal()
        if signum is not None:
            run.finish_from_hook("killed", 128 + signum, signal_name=signal.Signals(signum).name)
        elif _exit_code:
            run.finish_from_hook("failed", _exit_code)
        else:
            run.finish_from_hook("finished", 0)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    runs = _owned_runs()
    busy = [run for run in runs if not run.note_signal(signum)]
    if busy and _interrupted_a_write(frame):
        _deferred.append(signum)  # the main thread holds the lock: finish the job right after its write
        return
    for run in busy:  # another thread holds it (a sampler's or an uploader's write): it lets go while we wait
        run.note_signal(signum, wait=_OTHER_THREAD_WAIT)
    _chain(signum, frame, runs)


_OTHER_THREAD_WAIT = 5.0
_lock_takers: set[str] = set()


def takes_run_locks(module_file: str) -> None:
    """Declare that code in ``module_file`` takes a run's lock on the caller's thread: a signal that
    interrupts the main thread there is handled after the write, never waited out in the handler."""
    _lock_takers.add(module_file)


def _interrupted_a_write(frame: FrameType | None) -> bool:
    """True if the interrupted main thread is inside code that may hold a run's lock."""
    while frame is not None:
        if frame.f_code.co_filename in _lock_takers:
            return True
        frame = frame.f_back
    return False


def stands_in_for_default_action(signum: int) -> bool:
    """True if the tracker's handler is installed for ``signum`` and ends its chain in the default action
    (no handler of the program's came before it): when it fires, the runs end ``killed`` and the process dies."""
    return signal.getsignal(signum) is _on_signal and _previous_handlers.get(signum) in (signal.SIG_DFL, None)


def handle_deferred_signal() -> None:
    """Called by a run after its write, on the main thread, when a signal arrived during it."""
    while _deferred:
        signum = _deferred.pop(0)
        runs = _owned_runs()
        for run in runs:
            run.note_signal(signum)
        _chain(signum, None, runs)


def _chain(signum: int, frame: FrameType | None, runs: list[LiveRun]) -> None:
    previous = _previous_handlers.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
        return
    name = signal.Signals(signum).name
    for run in runs:
        run.finish_from_hook("killed", 128 + signum, signal_name=name)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)

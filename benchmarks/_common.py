"""Helpers shared by the benchmark scripts: an offline sandbox for the peers, optional imports, tables.

Not a benchmark itself. The scripts import it as ``_common`` (``python benchmarks/<name>.py``
puts this folder first on ``sys.path``).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

ROW = {"train/loss": 0.5, "train/acc": 0.9, "train/lr": 3e-4, "train/grad_norm": 1.25}  # the 4 scalars


def offline_env(tmp: str) -> dict[str, str]:
    """Environment that keeps every peer local and quiet, with all output (caches, logs, temporary
    files, config the peers leave in the home folder) under ``tmp``."""
    home = {name: os.path.join(tmp, "home", name.lower()) for name in (
        "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "MPLCONFIGDIR", "WANDB_CACHE_DIR",
        "WANDB_CONFIG_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR", "TMPDIR")}
    env = {
        **home,
        "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DIR": os.path.join(tmp, "wandb"),
        "WANDB_CONSOLE": "off", "WANDB_DISABLE_GIT": "true",
        "TRACKIO_DIR": os.path.join(tmp, "trackio"),
        "MLFLOW_TRACKING_URI": "sqlite:///" + os.path.join(tmp, "mlflow.db"),
        "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False", "TRACKER_DIR": os.path.join(tmp, "tracker"),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    for path in (env["WANDB_DIR"], env["TRACKIO_DIR"], *home.values()):
        os.makedirs(path, exist_ok=True)
    return env


def use_offline_env(tmp: str) -> None:
    """Apply ``offline_env`` to this process (before any peer is imported)."""
    env = offline_env(tmp)
    os.environ.update(env)
    tempfile.tempdir = env["TMPDIR"]  # the module caches its folder at first use


def installed(*modules: str) -> bool:
    """True if every top-level module named can be imported (found without importing it)."""
    try:
        return all(importlib.util.find_spec(module) is not None for module in modules)
    except (ImportError, ValueError):
        return False


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths), *map(line, cells[1:])])


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def python() -> str:
    return sys.executable


def start_team_server(tmp: str) -> tuple[subprocess.Popen[bytes], str, str]:
    """A team server (SQLite, one process) on a free loopback port, and a member key of team ``bench``:
    (the process, its URL, the key). The caller stops the process."""
    data = os.path.join(tmp, "server")
    made = subprocess.run([sys.executable, "-m", "tracker_server", "keys", "create", "--team", "bench", "--name",
                           "bench", "--data", data], capture_output=True, text=True, timeout=120, check=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "tracker_server", "--data", data, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as answer:
                if answer.status == 200:
                    break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("the team server did not start") from None
            time.sleep(0.1)
    return proc, url, made.stdout.strip().split()[-1]


def held_on_server(url: str, key: str, run: Any) -> tuple[int, int]:
    """(the seq the team server holds of ``run``, the last seq of its local log), for a finished online run
    of project ``bench``, entity ``bench``."""
    import json

    request = urllib.request.Request(f"{url}/api/v1/runs/bench/bench/{run.id}",
                                     headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        held = json.loads(answer.read())["last_seq"]
    with open(os.path.join(str(run.dir), "events.jsonl"), "rb") as log:
        local = json.loads(log.read().splitlines()[-1])["seq"]
    return int(held), int(local)

"""Real MLflow stores for the migration tests: a SQLite file, a folder store, and a real ``mlflow server``
subprocess on 127.0.0.1 (SQLite backend, artifacts in a temporary folder)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow", reason="the MLflow migration tests need the mlflow extra: pip install 'tracker[mlflow]'")

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

__all__ = ["MlflowClient", "Param", "log_points", "mlflow_server", "our_points", "source_points"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mlflow_server(folder: Path, timeout: float = 90.0) -> Iterator[str]:
    """Start ``mlflow server`` and yield its URL once /health answers; stopped (bounded) at the end."""
    port = _free_port()
    log = open(folder / "mlflow-server.log", "wb")  # noqa: SIM115 - closed below
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{folder / 'server.db'}",
         "--artifacts-destination", str(folder / "server-artifacts"), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(folder / 'mlflow-server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not answer /health within {timeout} s")
            time.sleep(0.25)
        yield url
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=20)
        log.close()


def log_points(client: Any, run_id: str, points: list[tuple[str, float, int, int]]) -> None:
    """Log (key, value, timestamp ms, step) points through log_batch, 1,000 a call."""
    for start in range(0, len(points), 1000):
        client.log_batch(run_id, metrics=[Metric(k, v, ts, s) for k, v, ts, s in points[start:start + 1000]])


def source_points(client: Any, run_id: str) -> dict[str, list[tuple[int, int, str]]]:
    """MLflow's own history of a run: key -> sorted (step, timestamp ms, repr of the value)."""
    run = client.get_run(run_id)
    return {key: sorted((m.step, m.timestamp, repr(float(m.value))) for m in client.get_metric_history(run_id, key))
            for key in run.data.metrics}


def our_points(run_dir: str) -> dict[str, list[tuple[int, int, str]]]:
    """What the local store's log holds: key -> sorted (step, timestamp ms, repr of the value); ±Inf as
    MLflow's SQL stores keep it (±the largest float)."""
    import math

    from tracker_core._encoding import decode_row
    from tracker_core.store._log import parse_records, read_log

    found: dict[str, list[tuple[int, int, str]]] = {}
    for record in parse_records(read_log(os.path.join(run_dir, "events.jsonl"))):
        if record.get("type") != "log":
            continue
        for key, value in decode_row(record["data"]).items():
            if isinstance(value, float) and math.isinf(value):
                value = math.copysign(sys.float_info.max, value)
            found.setdefault(key, []).append((record["step"], round(record["t"] * 1000), repr(float(value))))
    return {key: sorted(points) for key, points in found.items()}

"""The server's side of "a report with 10 panels over 100 runs opens in <= 1.5 s" (issue 18): how long the
10 panels' data take to come back from a real server process, as the report page asks for them.

100 real runs (``tracker_core``, 1,000 steps of 3 metrics each, so a line panel carries 100,000 points,
every one: line panels are never sampled) are posted to the server over HTTP. A report of 10 panels over
``runs: {limit: 100}`` (4 line charts, 2 bar charts, a table, a scatter, parallel coordinates and a
best-run card) is then created, and its ``/blocks/{i}/data`` requests are timed: all 10 one after the
other, and all 10 on 6 connections at once (what a browser does). The budget is the issue's 1.5 s for the
whole page, drawing included; the data should be a small share of it. No peer has this API (W&B's reports
are a hosted service), so there is no peer column. ``--group config.layers`` groups every panel's run set
(6 groups): the line panels then also carry each group's mean/min/max series over the full histories.

    python benchmarks/bench_report_data.py [--db postgresql://postgres@127.0.0.1/bench] [--runs 100]
                                           [--steps 1000] [--rounds 7] [--group config.layers]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import median, quartiles, table, verdict  # noqa: E402

BUDGET = 1.5
PANELS = """```panel
type: line
metric: {metric}
runs: {{limit: {runs}{group}}}
```
"""
OTHERS = """```panel
type: bar
metric: acc
goal: max
runs: {{limit: {runs}{group}}}
```
```panel
type: bar
metric: loss
runs: {{limit: {runs}{group}}}
```
```panel
type: table
columns: [config.lr, config.layers, summary.loss, summary.acc]
runs: {{limit: {runs}{group}, order: -summary.acc}}
```
```panel
type: scatter
param: config.lr
metric: loss
runs: {{limit: {runs}{group}}}
```
```panel
type: parallel
columns: [config.lr, config.layers, summary.acc]
runs: {{limit: {runs}{group}}}
```
```panel
type: best
metric: loss
goal: min
runs: {{limit: {runs}{group}}}
```
"""


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_runs(store: str, runs: int, steps: int) -> list[Path]:
    os.environ.update({"TRACKER_DIR": store, "TRACKER_MODE": "offline", "TRACKER_SILENT": "true",
                       "TRACKER_CONSOLE": "off"})
    import tracker_core

    folders = []
    for index in range(runs):
        run = tracker_core.init(project="p", config={"lr": 10 ** (-1 - index % 4), "layers": 1 + index % 6})
        floor = 0.1 + index / runs
        for step in range(steps):
            run.log({"loss": floor + 1.0 / (step + 1), "acc": 1.0 - floor, "lr": 1e-3}, step=step)
        run.finish()
        folders.append(Path(run.dir))
    return folders


def _post(client: httpx.Client, folder: Path) -> None:
    meta = orjson.loads((folder / "run.json").read_bytes())
    path = f"/api/v1/runs/research/p/{meta['id']}"
    client.put(path, json={"meta": meta}).raise_for_status()
    lines = (folder / "events.jsonl").read_bytes().splitlines(keepends=True)
    for start in range(0, len(lines), 2000):
        client.post(path + "/records", content=b"".join(lines[start:start + 2000]),
                    headers={"Content-Type": "application/x-ndjson"}).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="a PostgreSQL URL (default: the embedded SQLite database)")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--group", help="a run set group field for every panel (config.<key>, group, job_type)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "server")
        storage = ["--data", data, *(["--db", options.db] if options.db else [])]
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        made = subprocess.run([sys.executable, "-m", "tracker_server", "keys", "create", "--team", "research",
                               "--name", "bench", *storage], capture_output=True, text=True, env=env, check=True)
        key = made.stdout.strip().split()[-1]
        port = _port()
        with open(os.path.join(tmp, "server.log"), "wb") as log:
            server = subprocess.Popen([sys.executable, "-m", "tracker_server", *storage, "--port", str(port)],
                                      stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            folders = _write_runs(os.path.join(tmp, "store"), options.runs, options.steps)
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
                for folder in folders:
                    _post(client, folder)
                group = f", group: {options.group}" if options.group else ""
                text = "---\ntitle: bench\nproject: research/p\n---\n" + "".join(
                    PANELS.format(metric=m, runs=options.runs, group=group) for m in ("loss", "acc", "lr", "loss")) + \
                    OTHERS.format(runs=options.runs, group=group)
                report_id = client.post("/api/v1/reports", json={"project": "research/p", "markdown": text}
                                        ).json()["id"]
                blocks = client.get(f"/api/v1/reports/{report_id}").json()["blocks"]
                panels = [i for i, block in enumerate(blocks) if block["kind"] == "panel"]
                first = client.get(f"/api/v1/reports/{report_id}/blocks/{panels[0]}/data").json()
                points = sum(len(s["x"]) for s in first["series"].values())
                assert len(panels) == 10 and len(first["runs"]) == options.runs
                assert bool(options.group) == ("groups" in first)

                def fetch(index: int) -> float:
                    started = time.perf_counter()
                    client.get(f"/api/v1/reports/{report_id}/blocks/{index}/data").raise_for_status()
                    return time.perf_counter() - started

                one_by_one, together, line, other = [], [], [], []
                with ThreadPoolExecutor(6) as pool:
                    for _ in range(options.rounds):
                        started = time.perf_counter()
                        for index in panels:
                            (line if blocks[index]["spec"]["type"] == "line" else other).append(fetch(index))
                        one_by_one.append(time.perf_counter() - started)
                        started = time.perf_counter()
                        list(pool.map(fetch, panels))
                        together.append(time.perf_counter() - started)
        finally:
            server.terminate()
            server.wait(timeout=30)

    def row(name: str, values: list[float]) -> list[object]:
        low, high = quartiles(values)
        return [name, f"{median(values) * 1000:.0f}", f"{low * 1000:.0f}-{high * 1000:.0f}", len(values)]

    print(f"{options.runs} runs x {options.steps} steps, a report of 10 panels over all of them "
          f"({'PostgreSQL' if options.db else 'SQLite'}); a line panel carries {points:,} points"
          + (f", grouped by {options.group} ({len(first['groups'])} groups)" if options.group else ""))
    print(table(["report data", "median ms", "IQR ms", "n"], [
        row("10 panels, one after the other", one_by_one), row("10 panels, 6 at a time", together),
        row("one line panel", line), row("one other panel", other)]))
    share = median(together) / BUDGET
    print(f"budget: the page, drawing included, <= {BUDGET} s; its data (6 at a time) take "
          f"{median(together):.2f} s = {share:.0%} of it: {verdict(median(together) < BUDGET / 2)} "
          "(passing: under half, leaving the rest to drawing)")
    if median(together) >= BUDGET / 2:
        sys.exit(1)


if __name__ == "__main__":
    main()

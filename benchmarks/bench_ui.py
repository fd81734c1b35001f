"""The web UI's budgets (issue: "The web UI"), in headless Chromium against a real team server process.

Data as in the issue: N runs (default 1,000) of 10 config values, 5 summary values and 100 steps of 3
metrics, and one run of P steps (default 100,000) x 2 metrics with 10 single-step spikes planted. The
runs are stored through the server's own ingest code in-process (as bench_server.py does), then every
measurement goes through the browser. Medians of --rounds:

- workspace: navigation → the runs table's rows visible and its count shown (budget at 10,000 runs: 1 s);
- sort: a click on a summary column → the right first row (budget: 200 ms);
- long chart: navigation → the panel drawn with its y range reaching the highest spike, and the
  buckets it drew from holding every spike (budget at 10^6 points: 500 ms).

MLflow's, Aim's and trackio's figures are the ones the issue quotes (their UIs are not installed here).

    python benchmarks/bench_ui.py [--runs 10000] [--points 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_server import _header, _store_run  # noqa: E402

from tracker_server._config import ServerConfig  # noqa: E402
from tracker_server._database import Database  # noqa: E402
from tracker_server._identity import create_key  # noqa: E402
from tracker_server._models import Run  # noqa: E402
from tracker_server._schema import upgrade  # noqa: E402
from tracker_server._ui import ui_built  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
BUDGETS = {"workspace": 1.0, "sort": 0.200, "long_chart": 0.500}
PEERS = {"workspace": "MLflow 3.17 4.1 s (100 of 1,000 rows), Aim 5.8 s, trackio 27.6 s",
         "sort": "MLflow 1.6 s", "long_chart": "MLflow 4.0 s, trackio 4.0 s, Aim 3.2 s; none showed a spike"}


def _populate(db: Database, team_id: int, runs: int, points: int) -> dict[int, float]:
    t0 = time.time() - 7200
    started = time.monotonic()
    for index in range(runs):
        config = {f"c{k}": random.choice([1, 2, 4, 8]) * 10 ** -k for k in range(10)}
        lines = _header(f"r{index:05d}", "sweep", config, t0 + index)
        seq = len(lines) + 1
        for step in range(100):
            data = {f"m{k}": random.random() for k in range(3)}
            lines.append(orjson.dumps({"seq": seq, "t": t0 + index + step * 0.01, "type": "log", "step": step,
                                       "data": data}) + b"\n")
            seq += 1
        summary = {f"s{k}": random.random() for k in range(5)}
        lines.append(orjson.dumps({"seq": seq, "t": t0 + index + 2, "type": "summary", "set": summary}) + b"\n")
        lines.append(orjson.dumps({"seq": seq + 1, "t": t0 + index + 3, "type": "status", "status": "finished",
                                   "exit_code": 0}) + b"\n")
        _store_run(db, team_id, "sweep", f"r{index:05d}", lines)
    print(f"  stored {runs} runs in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    spikes = {step: 100.0 + i for i, step in enumerate(random.sample(range(1, points - 1), 10))}
    _store_run(db, team_id, "long", "long", _header("long", "long", {}, t0))
    from tracker_server._ingest import apply_batch, parse_batch

    batch = 50_000
    for start in range(0, points, batch):
        chunk = [orjson.dumps({"seq": 4 + step, "t": t0 + step * 0.01, "type": "log", "step": step,
                               "data": {"a": spikes.get(step, random.random()), "b": random.random()}}) + b"\n"
                 for step in range(start, min(points, start + batch))]
        with db.write() as session:
            run = session.query(Run).filter_by(run_id="long").one()
            apply_batch(session, run, parse_batch(b"".join(chunk)))
    print(f"  stored a {points}-step run in {time.monotonic() - started:.1f} s")
    return spikes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not ui_built():
        raise SystemExit("build the UI first: python ui/build_bundle.py")
    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    proc = None
    try:
        db = Database(ServerConfig(data=str(folder)).database_url)
        upgrade(db)
        with db.write() as session:
            key = create_key(session, "bench", "bench", "member")
        with db.read() as session:
            from tracker_server._models import Team

            team_id = session.query(Team).filter_by(name="bench").one().id
        spikes = _populate(db, team_id, args.runs, args.points)
        db.dispose()
        port = 18000 + random.randrange(1000)
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-m", "tracker_server", "--data", str(folder), "--port", str(port)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        buckets = httpx.get(f"{url}/api/v1/runs/bench/long/long/history", params={"keys": "a", "buckets": 800},
                            headers={"Authorization": f"Bearer {key}"}).json()["series"]["a"]
        kept = set(buckets["max"])
        top = httpx.get(f"{url}/api/v1/runs/bench/sweep", params={"order": "-summary.s0", "limit": 1},
                        headers={"Authorization": f"Bearer {key}"}).json()["runs"][0]["id"]
        every_spike = all(value in kept for value in spikes.values())
        results: dict[str, float] = {}
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.request.post(url + "/api/v1/session", data={"key": key})
            page = context.new_page()
            page.goto(url + "/bench/sweep")  # warm: the bundle cached, as a returning user has it
            page.wait_for_selector(".tr")
            table, sort, chart = [], [], []
            for _ in range(args.rounds):
                started = time.perf_counter()
                page.goto(url + "/bench/sweep?cols=summary.s0")
                page.wait_for_function(f"document.querySelector('[data-testid=\"run-count\"]')?.textContent === "
                                       f"'{args.runs} runs' && document.querySelectorAll('.tr').length > 0")
                table.append(time.perf_counter() - started)
                started = time.perf_counter()
                page.locator('.th[data-field="summary.s0"] button').first.click()
                page.wait_for_function(f"document.querySelector('.tr')?.dataset.run === '{top}'")
                sort.append(time.perf_counter() - started)
                started = time.perf_counter()
                page.goto(url + "/bench/long?sel=long")
                page.wait_for_function(f"Number(document.querySelector('.panel[data-metric=\"a\"]')?.dataset.ymax)"
                                       f" >= {max(spikes.values())}", timeout=60_000)
                chart.append(time.perf_counter() - started)
            browser.close()
        results = {"workspace": statistics.median(table), "sort": statistics.median(sort),
                   "long_chart": statistics.median(chart)}
        print(f"\nweb UI, {args.runs} runs; a {args.points}-step run with 10 spikes; medians of {args.rounds}")
        print(f"{'measure':14} {'median':>10} {'budget':>10}  peers (the issue's figures)")
        for name, value in results.items():
            print(f"{name:14} {value * 1000:8.0f} ms {BUDGETS[name] * 1000:7.0f} ms  {PEERS[name]}")
        print(f"every spike in the chart's buckets: {every_spike} ({len(buckets['max'])} buckets)")
        return 0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

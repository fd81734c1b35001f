"""The web UI's budgets (issue: "The web UI"), in headless Chromium against a real team server process,
side by side with the MLflow UI and trackio's dashboard on the same data where they are installed.

Data as in the issue: N runs of 10 config values, 5 summary values and 100 steps of 3 metrics; one run of
P steps x 2 metrics with 10 single-step spikes planted; for ours also 20 runs x Q steps overlaid, and 8 runs
logging live. Our runs are stored through the server's own ingest code in-process (as bench_server.py does);
every measurement goes through the browser. Medians of --rounds; each time is read in the page
(``performance.now()``, from navigation start, or from the click), so it counts the page's own work:

- workspace: navigation -> the runs table's rows visible and its count shown (budget at 10,000 runs: 1 s);
- sort: a click on a summary column's header -> the right first row in the DOM (budget: 200 ms);
- long chart: navigation -> the panel drawn (budget at 10^6 points: 500 ms); then how many of the 10 spikes
  are visible: the canvas pixels at each spike's top are coloured (ours), or the data the chart received
  holds the spike (peers; their charts are SVG/canvas we cannot read the same way);
- overlay: navigation -> one panel drawn with all 20 runs' lines (budget: 1 s);
- live: 8 child processes log one value a step, ~5 steps a second, through ``tracker_core`` in online mode to
  the server; the value logged is ``time.time()`` at the ``log()`` call, and the page records, each time a
  panel is drawn, how old each run's newest drawn value is (budget: 2 s at p99).

Peers: MLflow (``mlflow server`` on a SQLite store, its runs table and metric chart) and trackio (its Gradio
dashboard); each is skipped with a line saying why when it is not installed or does not start.

    python benchmarks/bench_ui.py [--quick] [--runs N] [--points N] [--rounds N] [--peer-runs N] [--no-peers]

``--quick`` (~3 min): 1,000 runs, a 100,000-step run, 20 x 10,000 overlaid, 8 s live, peers on 200 runs.
The default (~8 min): 10,000 runs, 10^6 steps, 20 x 100,000, 15 s live, peers on 1,000 runs (--peer-runs).
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
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_server import _header, _store_run  # noqa: E402

from tracker_server._config import ServerConfig  # noqa: E402
from tracker_server._database import Database  # noqa: E402
from tracker_server._identity import create_key  # noqa: E402
from tracker_server._ingest import apply_batch, parse_batch  # noqa: E402
from tracker_server._models import Project, Run, Team  # noqa: E402
from tracker_server._schema import upgrade  # noqa: E402
from tracker_server._ui import ui_built  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
BUDGETS = {"workspace": 1.0, "sort": 0.200, "long_chart": 0.500, "overlay": 1.0, "live_p99": 2.0}
ISSUE_PEERS = {"workspace": "MLflow 4.1 s (100 of 1,000 rows), Aim 5.8 s, trackio 27.6 s",
               "sort": "MLflow 1.6 s", "long_chart": "MLflow 4.0 s, trackio 4.0 s, Aim 3.2 s; 0 of 10 spikes"}
LIVE_STEP = 0.2  # seconds between two log() calls of one live run
PEER_POINTS = 100_000  # the long run the peers get (the issue's data); ours is also measured on it for the ratio

# -- the data ------------------------------------------------------------------------------------------------


def sweep_run(index: int) -> tuple[dict[str, float], list[dict[str, float]], dict[str, float]]:
    """One sweep run's config (10 values), history (100 steps of 3 metrics) and summary (5 values)."""
    rng = random.Random(index)
    config = {f"c{k}": rng.choice([1, 2, 4, 8]) * 10 ** -k for k in range(10)}
    rows = [{f"m{k}": rng.random() for k in range(3)} for _ in range(100)]
    return config, rows, {f"s{k}": rng.random() for k in range(5)}


def long_values(points: int, seed: int = 7) -> tuple[dict[int, float], list[float], list[float]]:
    """The long run's two metrics, ``a`` with 10 single-step spikes (100..109) planted in noise of [0, 1)."""
    rng = random.Random(seed)
    spikes = {step: 100.0 + i for i, step in enumerate(rng.sample(range(1, points - 1), 10))}
    a = [spikes.get(step, rng.random()) for step in range(points)]
    return spikes, a, [rng.random() for _ in range(points)]


def _log_lines(first_seq: int, t0: float, columns: dict[str, list[float]], start: int, end: int) -> bytes:
    return b"".join(orjson.dumps({"seq": first_seq + step, "t": t0 + step * 0.01, "type": "log", "step": step,
                                  "data": {key: values[step] for key, values in columns.items()}}) + b"\n"
                    for step in range(start, end))


def _store_long(db: Database, team_id: int, project: str, run_id: str, columns: dict[str, list[float]],
                t0: float) -> None:
    with db.write() as session:
        _store_run(session, team_id, project, run_id, _header(run_id, project, {}, t0))
    points = len(next(iter(columns.values())))
    for start in range(0, points, 50_000):
        with db.write() as session:
            run = session.query(Run).join(Project).filter(Run.run_id == run_id, Project.name == project).one()
            apply_batch(session, run, parse_batch(_log_lines(4, t0, columns, start, min(points, start + 50_000))))
    with db.write() as session:
        run = session.query(Run).join(Project).filter(Run.run_id == run_id, Project.name == project).one()
        apply_batch(session, run, parse_batch(orjson.dumps({"seq": 4 + points, "t": t0 + points * 0.01,
                                                            "type": "status", "status": "finished",
                                                            "exit_code": 0}) + b"\n"))


def populate(db: Database, team_id: int, runs: int, points: int, overlay: int) -> dict[int, dict[int, float]]:
    t0 = time.time() - 7200
    started = time.monotonic()
    for first in range(0, runs, 250):  # one transaction per 250 runs
        with db.write() as session:
            for index in range(first, min(runs, first + 250)):
                config, rows, summary = sweep_run(index)
                lines = _header(f"r{index:05d}", "sweep", {**config}, t0 + index)
                seq = len(lines) + 1
                for step, data in enumerate(rows):
                    lines.append(orjson.dumps({"seq": seq + step, "t": t0 + index + step * 0.01, "type": "log",
                                               "step": step, "data": data}) + b"\n")
                seq += len(rows)
                lines.append(orjson.dumps({"seq": seq, "t": t0 + index + 2, "type": "summary", "set": summary}) + b"\n")
                lines.append(orjson.dumps({"seq": seq + 1, "t": t0 + index + 3, "type": "status",
                                           "status": "finished", "exit_code": 0}) + b"\n")
                _store_run(session, team_id, "sweep", f"r{index:05d}", lines)
    print(f"  stored {runs} runs in {time.monotonic() - started:.1f} s", flush=True)
    started = time.monotonic()
    spikes: dict[int, dict[int, float]] = {}
    for size in sorted({points, PEER_POINTS}):
        spikes[size], a, b = long_values(size)
        _store_long(db, team_id, f"long{size}", "long", {"a": a, "b": b}, t0)
    extra = f" (and one of {PEER_POINTS} for the peers' ratio)" if points != PEER_POINTS else ""
    print(f"  stored a {points}-step run x 2 metrics{extra} in {time.monotonic() - started:.1f} s", flush=True)
    started = time.monotonic()
    for index in range(20):
        rng = random.Random(1000 + index)
        _store_long(db, team_id, "overlay", f"o{index:02d}", {"a": [rng.random() + index for _ in range(overlay)]}, t0)
    print(f"  stored 20 runs x {overlay} steps in {time.monotonic() - started:.1f} s", flush=True)
    return spikes


# -- the browser ----------------------------------------------------------------------------------------------

# Resolves with performance.now() once the condition (a JS expression) holds, checked every animation frame;
# with NaN after the timeout (ms).
_WAIT = """([cond, timeout]) => new Promise((resolve) => { const f = new Function('return (' + cond + ')');
  const end = performance.now() + timeout;
  const check = () => { let ok = false; try { ok = f(); } catch (e) {} if (ok) resolve(performance.now());
  else if (performance.now() > end) resolve(NaN); else requestAnimationFrame(check); }; check(); })"""


def until(page: Any, condition: str, timeout: float = 60_000) -> float:
    """performance.now() (ms) once ``condition`` holds in the page; NaN if it did not within ``timeout`` ms."""
    return float(page.evaluate(_WAIT, [condition, timeout]))

# How many of the given (x, y) points are drawn: a coloured (not white or grey) pixel within 3 px of where
# the point lies on the panel's canvas, from the scales and plot box the panel reports.
_SPIKES_DRAWN = """([metric, spikes]) => {
  const panel = document.querySelector(`.panel[data-metric="${metric}"]`);
  const canvas = panel.querySelector('canvas'); const d = panel.dataset;
  const [left, top, width, height] = d.bbox.split(',').map(Number);
  const [x0, x1, y0, y1] = [d.xmin, d.xmax, d.ymin, d.ymax].map(Number);
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let seen = 0;
  for (const [x, y] of spikes) {
    const px = Math.round(left + (x - x0) / (x1 - x0) * width);
    const py = Math.round(top + (1 - (y - y0) / (y1 - y0)) * height);
    let hit = false;
    for (let dx = -3; dx <= 3 && !hit; dx++) for (let dy = -3; dy <= 3 && !hit; dy++) {
      const i = ((py + dy) * canvas.width + (px + dx)) * 4;
      const [r, g, b, a] = [pixels.data[i], pixels.data[i + 1], pixels.data[i + 2], pixels.data[i + 3]];
      hit = a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 12;
    }
    if (hit) seen++;
  }
  return seen; }"""

# Every time the panel reports a draw, how old (s) each run's newest drawn value (a time.time() stamp) is.
_WATCH_LIVE = """() => { window.__ages = []; const seen = new Map();
  const tick = () => { const panel = document.querySelector('.panel[data-metric="stamp"]');
    if (panel && panel.dataset.last) panel.dataset.last.split(',').forEach((v, i) => {
      const value = Number(v); if (v && seen.get(i) !== value) { seen.set(i, value);
        window.__ages.push(Date.now() / 1000 - value); } });
    requestAnimationFrame(tick); }; tick(); }"""


def launch(driver: Any) -> Any:
    return driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def goto_until(page: Any, address: str, condition: str, timeout: float = 60_000) -> float:
    """Seconds from navigation start until ``condition`` holds in the page (NaN: not within ``timeout`` ms).
    A blank page first, so that a link differing only in its #fragment is a whole navigation too."""
    page.goto("about:blank")
    page.goto(address, wait_until="commit")
    return until(page, condition, timeout) / 1000


def collect_json(page: Any, marker: str) -> list[Any]:
    """The list the JSON bodies of the page's responses whose URL holds ``marker`` are appended to, as they come
    (what a peer's chart received; clear it between rounds)."""
    received: list[Any] = []

    def keep(response: Any) -> None:
        if marker in response.url:
            try:
                received.append(response.json())
            except Exception:  # a body that is not JSON carries no points
                pass

    page.on("response", keep)
    return received


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms" if values else "-"


def measure_ours(url: str, key: str, args: argparse.Namespace, all_spikes: dict[int, dict[int, float]], out: Path
                 ) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    auth = {"Authorization": f"Bearer {key}"}
    top = httpx.get(f"{url}/api/v1/runs/bench/sweep", params={"order": "-summary.s0", "limit": 1},
                    headers=auth).json()["runs"][0]["id"]
    spikes = all_spikes[args.points]
    buckets = httpx.get(f"{url}/api/v1/runs/bench/long{args.points}/long/history",
                        params={"keys": "a", "buckets": 1400}, headers=auth).json()["series"]["a"]
    in_buckets = sum(value in set(buckets["max"]) for value in spikes.values())
    overlay_ids = ",".join(f"o{i:02d}" for i in range(20))
    found: dict[str, Any] = {"workspace": [], "sort": [], "long_chart": [], "overlay": [], "spikes_drawn": [],
                             "spikes_in_buckets": in_buckets, "peer_chart": [], "peer_spikes": []}
    drawn = "Number(document.querySelector('.panel[data-metric=\"a\"]')?.dataset.ymax) >= 109"
    rows_done = (f"document.querySelector('[data-testid=\"run-count\"]')?.textContent === '{args.runs} runs' && "
                 f"document.querySelectorAll('.tr').length > 0")
    with sync_playwright() as driver:
        browser = launch(driver)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.request.post(url + "/api/v1/session", data={"key": key})
        page = context.new_page()
        goto_until(page, url + "/bench/sweep", rows_done)  # warm: the bundle cached, as a returning user has it
        for round_ in range(args.rounds):
            found["workspace"].append(goto_until(page, url + "/bench/sweep?cols=summary.s0", rows_done))
            started = page.evaluate("() => { document.querySelector('.th[data-field=\"summary.s0\"] button').click();"
                                    " return performance.now(); }")
            done = until(page, f"document.querySelector('.tr')?.dataset.run === '{top}'")
            found["sort"].append((done - started) / 1000)
            if round_ == 0:
                page.screenshot(path=str(out / "workspace.png"))
            found["long_chart"].append(goto_until(page, f"{url}/bench/long{args.points}?sel=long", drawn))
            found["spikes_drawn"].append(page.evaluate(_SPIKES_DRAWN, ["a", [[s, v] for s, v in spikes.items()]]))
            if round_ == 0:
                page.screenshot(path=str(out / "long_chart.png"), full_page=True)
            found["peer_chart"].append(goto_until(page, f"{url}/bench/long{PEER_POINTS}?sel=long", drawn))
            found["peer_spikes"].append(page.evaluate(_SPIKES_DRAWN, [
                "a", [[s, v] for s, v in all_spikes[PEER_POINTS].items()]]))
            found["overlay"].append(goto_until(
                page, f"{url}/bench/overlay?sel={overlay_ids}",
                "document.querySelector('.panel[data-metric=\"a\"]')?.dataset.drawn === '20'"))
            if round_ == 0:
                page.screenshot(path=str(out / "overlay.png"), full_page=True)
        found["live"] = measure_live(url, key, page, args.live)
        browser.close()
    return found


_LIVE_CHILD = """
import sys, time
import tracker_core as tracker
run = tracker.init(project="live", id=sys.argv[1], name=sys.argv[1], mode="online")
end = time.time() + float(sys.argv[2])
step = 0
while time.time() < end:
    run.log({"stamp": time.time()}, step=step)
    step += 1
    time.sleep(float(sys.argv[3]))
run.finish()
"""


def measure_live(url: str, key: str, page: Any, seconds: float) -> list[float]:
    """Ages of the newest drawn value while 8 child processes log through the online mode."""
    folder = Path(tempfile.mkdtemp(prefix="bench-ui-live-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRACKER_SERVER": url, "TRACKER_API_KEY": key,
           "TRACKER_ENTITY": "bench", "TRACKER_DIR": str(folder), "TRACKER_SILENT": "true", "TRACKER_CONSOLE": "off"}
    ids = [f"live{i}" for i in range(8)]
    children = [subprocess.Popen([sys.executable, "-c", _LIVE_CHILD, run_id, str(seconds + 15), str(LIVE_STEP)],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for run_id in ids]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # all 8 runs on the server, then open the chart of them
            listed = httpx.get(f"{url}/api/v1/runs/bench/live", headers={"Authorization": f"Bearer {key}"})
            if listed.status_code == 200 and listed.json()["total"] == len(ids):
                break
            time.sleep(0.2)
        else:
            print("  live: the 8 runs did not all reach the server in 30 s", flush=True)
            return []
        goto_until(page, f"{url}/bench/live?sel={','.join(ids)}",
                   "document.querySelector('.panel[data-metric=\"stamp\"]')?.dataset.drawn === '8'")
        time.sleep(2)  # settled: the first fetch done, only live records from here
        page.evaluate(_WATCH_LIVE)
        time.sleep(seconds)
        ages: list[float] = page.evaluate("window.__ages")
        return ages
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")


# -- the peers ------------------------------------------------------------------------------------------------

def _python_with(*modules: str) -> str | None:
    """An interpreter that imports every module: this one, else /work/venv-bench's (where the peers live)."""
    for python in (sys.executable, "/work/venv-bench/bin/python"):
        if os.path.exists(python) and subprocess.run([python, "-c", "import " + ", ".join(modules)],
                                                     capture_output=True, check=False).returncode == 0:
            return python
    return None


def _wait_http(address: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(address, timeout=1).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_MLFLOW_LOAD = """
import sys, time, json
sys.path.insert(0, sys.argv[3])
from bench_ui import sweep_run, long_values
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
client = MlflowClient(tracking_uri=sys.argv[1])
runs, points = int(sys.argv[2]), int(sys.argv[4])
sweep = client.create_experiment("sweep")
t0 = int(time.time() * 1000) - 7200_000
started = time.time()
for index in range(runs):
    config, rows, summary = sweep_run(index)
    run = client.create_run(sweep, run_name=f"r{index:05d}", start_time=t0 + index * 1000)
    metrics = [Metric(key, value, t0 + index * 1000 + step * 10, step) for step, row in enumerate(rows)
               for key, value in row.items()]
    metrics += [Metric(key, value, t0 + index * 1000 + 2000, 100) for key, value in summary.items()]
    params = [Param(key, repr(value)) for key, value in config.items()]
    for first in range(0, len(metrics), 1000):
        client.log_batch(run.info.run_id, metrics=metrics[first:first + 1000], params=params if first == 0 else [])
    client.set_terminated(run.info.run_id)
print("loaded", runs, "runs", round(time.time() - started, 1), flush=True)
started = time.time()
spikes, a, b = long_values(points)
long_id = client.create_run(client.create_experiment("long"), run_name="long").info.run_id
for first in range(0, points, 500):
    batch = [Metric("a", a[s], t0 + s * 10, s) for s in range(first, min(points, first + 500))]
    batch += [Metric("b", b[s], t0 + s * 10, s) for s in range(first, min(points, first + 500))]
    client.log_batch(long_id, metrics=batch)
client.set_terminated(long_id)
print("loaded long", round(time.time() - started, 1), flush=True)
print(json.dumps({"sweep": sweep, "long": long_id, "long_experiment": client.get_run(long_id).info.experiment_id}))
"""


def measure_mlflow(args: argparse.Namespace, spikes: dict[int, float], folder: Path, out: Path
                   ) -> dict[str, Any] | str:
    python = _python_with("mlflow")
    if python is None:
        return "mlflow is not installed (here or in /work/venv-bench)"
    from playwright.sync_api import sync_playwright

    store = f"sqlite:///{folder / 'mlflow.db'}"
    started = time.monotonic()
    load = subprocess.run([python, "-c", _MLFLOW_LOAD, store, str(args.peer_runs), str(Path(__file__).parent),
                           str(PEER_POINTS)], capture_output=True, text=True, check=False,
                          env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"})
    if load.returncode != 0:
        return f"loading the data into MLflow failed: {load.stderr.strip().splitlines()[-1:]}"
    ids = orjson.loads(load.stdout.strip().splitlines()[-1])
    print(f"  MLflow: stored {args.peer_runs} runs and the {PEER_POINTS}-step run in "
          f"{time.monotonic() - started:.0f} s", flush=True)
    port = _free_port()
    server = subprocess.Popen([str(Path(python).parent / "mlflow"), "server", "--backend-store-uri", store,
                               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder,
                              env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"})
    try:
        url = f"http://127.0.0.1:{port}"
        if not _wait_http(url + "/health", 90):
            return "mlflow server did not answer in 90 s"
        found: dict[str, Any] = {"workspace": [], "sort": [], "long_chart": [], "spikes": [], "rows": ""}
        top = max(range(args.peer_runs), key=lambda index: sweep_run(index)[2]["s0"])
        # the topmost run name drawn on screen (MLflow also keeps rows that are not shown in the DOM)
        first_row = ("[...document.querySelectorAll('a')].filter((a) => /^r\\d{5}$/.test(a.textContent.trim()) && "
                     "a.getBoundingClientRect().height > 0).sort((a, b) => a.getBoundingClientRect().top - "
                     "b.getBoundingClientRect().top)[0]")
        with sync_playwright() as driver:
            browser = launch(driver)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            # the newest first, said in the link: MLflow keeps a table's last sort in the browser's storage
            table = f"{url}/#/experiments/{ids['sweep']}/runs?orderByKey=attributes.start_time&orderByAsc=false"
            newest = f"r{args.peer_runs - 1:05d}"
            rows = f"{first_row}?.textContent.includes('{newest}')"
            goto_until(page, table, rows, 90_000)  # warm
            received = collect_json(page, "metrics/get-history")
            for _ in range(args.rounds):
                found["workspace"].append(goto_until(page, table, rows, 90_000))
                found["rows"] = page.evaluate("() => document.body.innerText.match(/\\d+ matching runs/)?.[0] ?? ''")
                # its "Sort:" menu opened (not timed), then a click on the s0 metric until the top run is first
                page.get_by_text("Sort:").first.click()
                option = page.get_by_text("s0", exact=True).first
                option.wait_for(timeout=20_000)
                started = page.evaluate("() => performance.now()")
                option.click()
                done = until(page, f"{first_row}?.textContent.includes('r{top:05d}')", 30_000)
                found["sort"].append((done - started) / 1000)
                received.clear()
                chart = f"{url}/#/experiments/{ids['long_experiment']}/runs/{ids['long']}/model-metrics"
                found["long_chart"].append(goto_until(
                    page, chart, "document.querySelectorAll('.js-plotly-plot .scatterlayer path.js-line').length >= 2",
                    90_000))
                page.wait_for_timeout(1000)
                values = set().union(*(numbers(body) for body in received)) if received else set()
                found["spikes"].append(sum(v in values for v in spikes.values()))
            page.screenshot(path=str(out / "mlflow_chart.png"), full_page=True)
            browser.close()
        return found
    finally:
        server.terminate()
        server.wait(timeout=30)


# -- the report -----------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--points", type=int)
    parser.add_argument("--overlay", type=int, help="steps of each of the 20 overlaid runs")
    parser.add_argument("--live", type=float, help="seconds of live logging measured")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--peer-runs", type=int)
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args()
    quick = {"runs": 1000, "points": 100_000, "overlay": 10_000, "live": 8.0, "rounds": 3, "peer_runs": 200}
    full = {"runs": 10_000, "points": 1_000_000, "overlay": 100_000, "live": 15.0, "rounds": 5, "peer_runs": 1000}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if not ui_built():
        raise SystemExit("build the UI first: python ui/build_bundle.py")
    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    load = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    out = Path(os.environ.get("TRACKER_BENCH_SCREENS", folder / "screens"))
    out.mkdir(parents=True, exist_ok=True)
    proc = None
    try:
        db = Database(ServerConfig(data=str(folder / "ours")).database_url)
        upgrade(db)
        with db.write() as session:
            key = create_key(session, "bench", "bench", "member")
        spikes = populate(db, _team_id(db), args.runs, args.points, args.overlay)
        db.dispose()
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([sys.executable, "-m", "tracker_server", "--data", str(folder / "ours"), "--port",
                                 str(port)], env={**os.environ, "PYTHONPATH": str(ROOT)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not _wait_http(url + "/healthz", 60):
            raise SystemExit("the team server did not start")
        ours = measure_ours(url, key, args, spikes, out)
        proc.terminate()
        proc.wait(timeout=20)
        proc = None
        peers: dict[str, dict[str, Any] | str] = {}
        if args.no_peers:
            peers["MLflow"] = peers["trackio"] = "--no-peers"
        else:
            peer_folder = folder / "mlflow"
            peer_folder.mkdir()
            peers["MLflow"] = measure_mlflow(args, spikes[PEER_POINTS], peer_folder, out)
            peers["trackio"] = measure_trackio(args, spikes[PEER_POINTS], folder / "trackio", out)
        load = max(load, os.getloadavg()[0])
        report(args, ours, peers, load, out)
        return 0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        shutil.rmtree(folder / "ours", ignore_errors=True)
        shutil.rmtree(folder / "mlflow", ignore_errors=True)
        shutil.rmtree(folder / "trackio", ignore_errors=True)


def _team_id(db: Database) -> int:
    with db.read() as session:
        return int(session.query(Team).filter_by(name="bench").one().id)


def report(args: argparse.Namespace, ours: dict[str, Any], peers: dict[str, dict[str, Any] | str], load: float,
           out: Path) -> None:
    print(f"\nweb UI in headless Chromium, {time.strftime('%Y-%m-%d')}, load average {load:.2f} (1 min, the higher of "
          f"start and end); medians of {args.rounds}. Ours: {args.runs} runs, a {args.points}-step run, 20 x "
          f"{args.overlay} overlaid, 8 runs logging. Peers: {args.peer_runs} runs and a {PEER_POINTS}-step run "
          f"(ours on that run too, for the ratio). ratio = the peer's time / ours")
    names = [name for name, found in peers.items() if isinstance(found, dict)]
    print(f"{'measure':40} {'ours':>8} {'budget':>7} {'verdict':>7}" + "".join(f" {n:>8} {'ratio':>6}" for n in names))

    def line(label: str, mine: list[float], budget: float | None, key: str | None, value_of: str = "") -> None:
        mine = [v for v in mine if v == v]  # NaN: the page never got there (the timeout)
        value = statistics.median(mine) if mine else float("nan")
        verdict = "" if budget is None else "PASS" if value <= budget else "MISS"
        text = f"{label:40} {value * 1000:6.0f}ms {'' if budget is None else f'{budget * 1000:5.0f}ms':>7} {verdict:>7}"
        for name in names:
            theirs = [v for v in peers[name].get(key or "", []) if v == v]  # type: ignore[union-attr]
            text += (f" {statistics.median(theirs) * 1000:6.0f}ms {statistics.median(theirs) / value:5.1f}x"
                     if theirs else f" {'-':>8} {'-':>6}")
        print(text)

    line(f"table interactive ({args.runs} runs)", ours["workspace"], BUDGETS["workspace"], "workspace")
    line("sort by a summary metric", ours["sort"], BUDGETS["sort"], "sort")
    line(f"{args.points}-step chart drawn", ours["long_chart"], BUDGETS["long_chart"], None)
    line(f"{PEER_POINTS}-step chart drawn", ours["peer_chart"], None, "long_chart")
    line(f"20 x {args.overlay} overlaid", ours["overlay"], BUDGETS["overlay"], None)
    drawn, same = min(ours["spikes_drawn"], default=0), min(ours["peer_spikes"], default=0)
    text = f"{'spikes visible of 10 (' + str(args.points) + ' / ' + str(PEER_POINTS) + ')':40} {drawn:>4}/{same:<3} " \
           f"{10:>7} {'PASS' if drawn == 10 else 'MISS':>7}"
    for name in names:
        seen = peers[name].get("spikes", [])  # type: ignore[union-attr]
        text += f" {min(seen) if seen else '-':>8} {'':>6}"
    print(text)
    ages = ours["live"]
    late = p99(ages)
    print(f"{'live: log() -> drawn, p99':40} {late * 1000:6.0f}ms {2000:5.0f}ms "
          f"{'PASS' if late <= BUDGETS['live_p99'] else 'MISS':>7}   (median {median_ms(ages)}, {len(ages)} values, "
          f"8 runs each logging every {LIVE_STEP} s)")
    print(f"ours: {ours['spikes_in_buckets']} of 10 spikes in the server's buckets; spikes visible = a coloured canvas "
          f"pixel at each spike's top. Peers: spikes in the data their chart was sent (their chart may still not "
          f"show it: see the screenshots)")
    for name, found in peers.items():
        if isinstance(found, str):
            print(f"{name}: skipped: {found}")
        elif found.get("rows"):
            print(f"{name}'s table: {found['rows']}")
    print(f"the issue's peer figures (1,000 runs): {ISSUE_PEERS}")
    print(f"screenshots in {out}")


_TRACKIO_LOAD = """
import sys
sys.path.insert(0, sys.argv[3])
from bench_ui import sweep_run, long_values
import trackio
runs, points = int(sys.argv[1]), int(sys.argv[2])
quiet = {"auto_log_cpu": False, "auto_log_gpu": False}
for index in range(runs):
    config, rows, summary = sweep_run(index)
    trackio.init(project="sweep", name=f"r{index:05d}", config=config, **quiet)
    for step, row in enumerate(rows):
        trackio.log({**row, **(summary if step == len(rows) - 1 else {})}, step=step)
    trackio.finish()
spikes, a, b = long_values(points)
trackio.init(project="long", name="long", **quiet)
for step in range(points):
    trackio.log({"a": a[step], "b": b[step]}, step=step)
trackio.finish()
"""


def numbers(tree: Any) -> set[float]:
    """Every number in a decoded JSON answer (the values a chart was sent)."""
    found: set[float] = set()
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            found.add(float(item))
    return found


def measure_trackio(args: argparse.Namespace, spikes: dict[int, float], folder: Path, out: Path
                    ) -> dict[str, Any] | str:
    python = _python_with("trackio")
    if python is None:
        return "trackio is not installed (here or in /work/venv-bench)"
    from playwright.sync_api import sync_playwright

    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TRACKIO_DIR": str(folder), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "DO_NOT_TRACK": "1", "HOME": str(folder)}
    started = time.monotonic()
    load = subprocess.run([python, "-c", _TRACKIO_LOAD, str(args.peer_runs), str(PEER_POINTS),
                           str(Path(__file__).parent)], capture_output=True, text=True, check=False, env=env,
                          timeout=600)
    if load.returncode != 0:
        return f"loading the data into trackio failed: {load.stderr.strip().splitlines()[-1:]}"
    print(f"  trackio: stored {args.peer_runs} runs and the {PEER_POINTS}-step run in "
          f"{time.monotonic() - started:.0f} s", flush=True)
    port = _free_port()
    dashboard = subprocess.Popen([python, "-c", "import trackio; trackio.show(project='sweep', open_browser=False, "
                                  f"block_thread=True, server_port={port})"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        if not _wait_http(url, 90):
            return "trackio's dashboard did not answer in 90 s"
        found: dict[str, Any] = {"workspace": [], "long_chart": [], "spikes": [], "rows": "all rows, no sort"}
        with sync_playwright() as driver:
            browser = launch(driver)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            received = collect_json(page, "get_logs")
            listed = "document.body.innerText.includes('r00000')"  # its run list shows every run, oldest last
            goto_until(page, f"{url}/?project=sweep", listed, 120_000)  # warm
            for _ in range(args.rounds):
                found["workspace"].append(goto_until(page, f"{url}/?project=sweep", listed, 120_000))
                received.clear()
                found["long_chart"].append(goto_until(
                    page, f"{url}/?project=long", "document.querySelectorAll('.vega-embed canvas').length >= 2",
                    120_000))
                page.wait_for_timeout(1000)
                values = set().union(*(numbers(body) for body in received)) if received else set()
                found["spikes"].append(sum(v in values for v in spikes.values()))
            page.screenshot(path=str(out / "trackio_chart.png"), full_page=True)
            browser.close()
        return found
    finally:
        dashboard.terminate()
        dashboard.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())

"""Reports' budgets (issue: "Reports"), in headless Chromium against a real team server process:

- open: a report of 10 panels (3 line charts, bar, scalar, runs table, parallel coordinates, scatter, best-run
  card, a second bar) over 100 runs of 100 steps, from navigation start to every panel drawn (each panel's data
  answered and rendered, each line chart's canvas drawn with all its runs), read in the page with
  ``performance.now()``; budget: 1.5 s median;
- pdf: ``tracker report export ID --format pdf`` as a user runs it (a fresh Python process reading the report
  and its panels' data from the server, drawing the charts as SVG, printing with headless Chromium); budget:
  10 s median.

Runs are real: written by ``tracker_core`` to a local store and posted to the server's ingest routes.

    python benchmarks/bench_reports.py [--runs N] [--steps N] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
TEAM, PROJECT = "bench", "reports"
OPEN_BUDGET_S, PDF_BUDGET_S = 1.5, 10.0


def _panels(runs: int) -> list[dict[str, Any]]:
    over = {"project": f"{TEAM}/{PROJECT}", "limit": runs}
    return [
        {"type": "line", "title": "val/loss", "metric": "val/loss", "x": "_step", "runs": over},
        {"type": "line", "title": "train/loss", "metric": "train/loss", "x": "_step", "runs": over},
        {"type": "line", "title": "acc", "metric": "acc", "x": "_step", "runs": over},
        {"type": "bar", "title": "final val/loss", "metric": "val/loss", "goal": "min", "runs": over},
        {"type": "scalar", "title": "best acc", "metric": "acc", "goal": "max", "runs": over},
        {"type": "table", "title": "runs", "columns": ["config.lr", "config.depth", "summary.val/loss"], "runs": over},
        {"type": "parallel", "title": "sweep", "columns": ["config.lr", "config.depth", "summary.val/loss"],
         "runs": over},
        {"type": "scatter", "title": "lr vs loss", "param": "config.lr", "metric": "val/loss", "runs": over},
        {"type": "best", "title": "best", "metric": "val/loss", "goal": "min", "runs": over},
        {"type": "bar", "title": "acc by run", "metric": "acc", "goal": "max", "runs": over},
    ]


def _populate(client: Any, runs: int, steps: int) -> None:
    from _server import post_run

    import tracker_core

    for i in range(runs):
        lr, depth = 10 ** (-1 - (i % 4)), 2 + i % 5
        run = tracker_core.init(project=PROJECT, config={"lr": lr, "depth": depth}, name=f"run-{i:03d}")
        for step in range(steps):
            scale = 1.0 / (1 + step * lr * 10)
            run.log({"val/loss": scale + i / 1000, "train/loss": scale * 0.9, "acc": 1 - scale}, step=step)
        run.finish()
        post_run(client, TEAM, Path(run.dir))


def _open_time(page: Any, url: str, lines: int) -> float:
    page.goto(url)
    condition = (f"document.querySelectorAll('.report-panel[data-state=\"ready\"]').length === 10 && "
                 f"[...document.querySelectorAll('.report-panel[data-type=\"line\"] .panel')]"
                 f".filter(p => p.dataset.drawn === '{lines}').length === 3")
    page.wait_for_function(condition, timeout=60_000, polling="raf")
    return float(page.evaluate("performance.now()")) / 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from _server import Server, new_key
    from playwright.sync_api import sync_playwright

    from tracker_server._ui import ui_built

    if not ui_built():
        print("the UI bundle is not built: python ui/build_bundle.py", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as folder:
        base = Path(folder)
        os.environ.update({"TRACKER_DIR": str(base / "store"), "TRACKER_SILENT": "true", "TRACKER_CONSOLE": "off"})
        server = Server(base / "server").start()
        try:
            key = new_key(server.data, TEAM, "bench")
            client = server.client(key)
            started = time.monotonic()
            _populate(client, args.runs, args.steps)
            print(f"stored {args.runs} runs x {args.steps} steps in {time.monotonic() - started:.1f} s")
            made = client.post("/api/v1/reports", json={"project": f"{TEAM}/{PROJECT}", "title": "Bench report",
                                                        "blocks": [{"kind": "markdown", "text": "# Bench\n"},
                                                                   *({"kind": "panel", "spec": s}
                                                                     for s in _panels(args.runs))]})
            assert made.status_code == 201, made.text
            report_id = made.json()["id"]
            opens = []
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.goto(f"{server.url}/{TEAM}/{PROJECT}")
                page.fill('input[name="key"]', key)
                page.click('button[type="submit"]')
                page.wait_for_selector('[data-testid="user"]')
                _open_time(page, f"{server.url}/reports/{report_id}", args.runs)  # warm: the bundle cached
                for _ in range(args.rounds):
                    opens.append(_open_time(page, f"{server.url}/reports/{report_id}", args.runs))
                page.screenshot(path="/tmp/report_bench.png", full_page=True)
                browser.close()
            env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                   "TRACKER_SERVER": server.url, "TRACKER_API_KEY": key}
            pdfs = []
            for i in range(3):
                t0 = time.monotonic()
                done = subprocess.run([sys.executable, "-m", "tracker_core.cli", "report", "export", report_id,
                                       "--format", "pdf", "-o", str(base / f"bench-{i}.pdf")], env=env,
                                      capture_output=True, text=True, timeout=120)
                pdfs.append(time.monotonic() - t0)
                assert done.returncode == 0, done.stderr
            client.close()
        finally:
            server.kill()
    open_median, pdf_median = statistics.median(opens), statistics.median(pdfs)
    print(f"open (10 panels, {args.runs} runs, all drawn): median {open_median:.3f} s over {len(opens)} "
          f"(min {min(opens):.3f}, max {max(opens):.3f}); budget {OPEN_BUDGET_S} s: "
          f"{'ok' if open_median <= OPEN_BUDGET_S else 'OVER'}")
    print(f"export pdf (CLI process): median {pdf_median:.2f} s over {len(pdfs)} (min {min(pdfs):.2f}); "
          f"budget {PDF_BUDGET_S} s: {'ok' if pdf_median <= PDF_BUDGET_S else 'OVER'}")
    return 0 if open_median <= OPEN_BUDGET_S and pdf_median <= PDF_BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())

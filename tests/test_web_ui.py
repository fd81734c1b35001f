"""The web UI in a real browser (Debian's Chromium driven by Playwright) against real server processes
over real runs: the local ``tracker ui`` over a store, and the team server with sign-in."""

from __future__ import annotations

import http.server
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from _server import Server, free_port, make_run, new_key, post_run

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
DATA = Path(__file__).with_name("_ui_data.py")
SCREENS = Path("/work/plan/screens")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
import _ui_data  # noqa: E402

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra)")


@pytest.fixture(scope="module")
def bundle() -> Path:
    """The built UI bundle in tracker_server/_ui (built here from ui/ when Node.js is present)."""
    folder = ROOT / "tracker_server" / "_ui"
    if not (folder / "index.html").is_file():
        if shutil.which("npm") is None:
            pytest.skip("the web UI bundle is not built and Node.js/npm is missing to build it")
        sys.path.insert(0, str(ROOT / "ui"))
        from build_bundle import build_ui

        build_ui(str(ROOT), required=True)
    return folder


@pytest.fixture(scope="module")
def browser(bundle: Path) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def screenshot(page: Any, folder: Path, name: str) -> None:
    """A full-page screenshot into the test's folder, copied to the shared screens folder when it exists."""
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    if SCREENS.is_dir():
        shutil.copy(folder / f"{name}.png", SCREENS / f"{name}.png")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "TRACKER_SILENT": "true", "TRACKER_CONSOLE": "off"}


class LocalUI:
    """``tracker ui`` (``python -m tracker_server.ui_cli``) over a store, on a free loopback port."""

    def __init__(self, store: Path, cache: Path) -> None:
        self.store, self.port = store, free_port()
        self.log = cache.parent / "ui.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "tracker_server.ui_cli", "--dir", str(store),
                                          "--port", str(self.port), "--no-browser", "--cache", str(cache)],
                                         stdout=log, stderr=subprocess.STDOUT, env=_env(), start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"http://\S+token=\S+", self.log.read_text())
            if found:
                self.url = found.group(0)
                try:
                    if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            if self.proc.poll() is not None:
                raise AssertionError(f"tracker ui exited:\n{self.log.read_text()}")
            time.sleep(0.2)
        raise AssertionError(f"tracker ui did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(scope="module")
def local_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalUI]:
    base = tmp_path_factory.mktemp("local-ui")
    store = base / "store"
    done = subprocess.run([sys.executable, str(DATA), str(store)], env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    ui = LocalUI(store, base / "cache")
    yield ui
    ui.stop()


@pytest.fixture
def page(browser: Any, local_ui: LocalUI) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(local_ui.url)  # the printed URL's token signs the browser in
    yield tab
    context.close()
    assert not errors, errors


def rows(page: Any) -> list[str]:
    return [name.strip() for name in page.locator(".tr .name a").all_inner_texts()]


def test_token_url_signs_in_and_the_table_sorts_and_filters(page: Any, local_ui: LocalUI, tmp_path: Path) -> None:
    assert "token=" not in page.url  # the token is traded for a cookie and leaves the address bar
    page.goto(f"http://127.0.0.1:{local_ui.port}/local/vision")
    page.wait_for_selector(".tr")
    assert sorted(rows(page)) == [f"run-{i:02d}" for i in range(_ui_data.RUNS)]
    assert page.get_by_test_id("run-count").inner_text() == f"{_ui_data.RUNS} runs"
    assert page.get_by_test_id("best").get_attribute("data-run") is not None
    best = max(range(_ui_data.RUNS), key=lambda i: max(_ui_data.val_acc(i, s) for s in range(4, _ui_data.STEPS, 5)))
    assert f"run-{best:02d}" in page.get_by_test_id("best").inner_text()
    assert page.get_by_test_id("best-value").inner_text() == str(_ui_data.val_acc(best, _ui_data.STEPS - 1))
    screenshot(page, tmp_path, "workspace")

    page.locator('.th[data-field="summary.val/acc"] button').first.click()  # descending first
    page.wait_for_url(re.compile(r"sort=-summary"))
    expected = sorted(range(_ui_data.RUNS), key=lambda i: -_ui_data.val_acc(i, _ui_data.STEPS - 1))
    page.wait_for_function(f"document.querySelector('.tr .name a').textContent === 'run-{expected[0]:02d}'")
    assert rows(page) == [f"run-{i:02d}" for i in expected]

    page.fill('input[name="filter"]', "config.lr<0.01")
    page.keyboard.press("Enter")
    wanted = [i for i in expected if _ui_data.config(i)["lr"] < 0.01]  # type: ignore[operator]
    page.wait_for_function(f"document.querySelectorAll('.tr').length === {len(wanted)}")
    assert rows(page) == [f"run-{i:02d}" for i in wanted]
    assert "f=config.lr" in page.url  # the view is a link: a reload opens the same one
    page.reload()
    page.wait_for_function(f"document.querySelectorAll('.tr').length === {len(wanted)}")
    assert rows(page) == [f"run-{i:02d}" for i in wanted]


def test_a_chosen_main_metric_ranks_the_banner_and_travels_in_the_link(page: Any, local_ui: LocalUI) -> None:
    page.goto(f"http://127.0.0.1:{local_ui.port}/local/vision?metric=min:train/loss")
    page.wait_for_selector('[data-testid="best"]')
    lowest = min(range(_ui_data.RUNS), key=lambda i: _ui_data.loss(i, _ui_data.STEPS - 1))
    page.wait_for_function(f"document.querySelector('[data-testid=\"best\"]').innerText.includes('run-{lowest:02d}')")
    assert page.get_by_test_id("best-value").inner_text() == str(_ui_data.loss(lowest, _ui_data.STEPS - 1))
    page.locator('.chooser select[title="goal"]').select_option("max")  # the highest loss: the worst run
    page.wait_for_url(re.compile(r"metric=max"))
    highest = max(range(_ui_data.RUNS), key=lambda i: _ui_data.loss(i, 0))
    page.wait_for_function(f"document.querySelector('[data-testid=\"best\"]').innerText.includes('run-{highest:02d}')")
    assert page.get_by_test_id("best-value").inner_text() == str(_ui_data.loss(highest, 0))


def test_a_chart_draws_every_selected_run_and_its_readout_shows_the_logged_values(page: Any, local_ui: LocalUI,
                                                                                  tmp_path: Path) -> None:
    chosen = [1, 4, 7]
    page.goto(f"http://127.0.0.1:{local_ui.port}/local/vision")
    page.wait_for_selector(".tr")
    ids = {}
    for i in chosen:
        row = page.locator(".tr", has=page.locator(f'a:text-is("run-{i:02d}")'))
        ids[row.get_attribute("data-run")] = i
        row.locator("input[type=checkbox]").check()
    panel = page.locator('.panel[data-metric="train/loss"]')
    page.wait_for_function("document.querySelector('.panel[data-metric=\"train/loss\"]')?.dataset.series === '3'")
    assert panel.get_attribute("data-points") == str(3 * _ui_data.STEPS)
    assert panel.get_attribute("data-bucketed") == "0"  # 30 points in 800 buckets: every point exact
    box = panel.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.wait_for_function("document.querySelector('.panel[data-metric=\"train/loss\"] .readout').dataset.x !== ''")
    step = int(float(panel.locator(".readout").get_attribute("data-x")))
    readings = panel.locator(".read")
    assert readings.count() == 3
    for k in range(3):
        run_id = readings.nth(k).get_attribute("data-run")
        assert float(readings.nth(k).get_attribute("data-value")) == _ui_data.loss(ids[run_id], step)
    screenshot(page, tmp_path, "workspace-charts")


def test_run_page_shows_overview_and_media_with_the_logged_pixels_and_table(page: Any, local_ui: LocalUI,
                                                                             tmp_path: Path) -> None:
    page.goto(f"http://127.0.0.1:{local_ui.port}/local/vision")
    last = f"run-{_ui_data.RUNS - 1:02d}"
    page.locator(f'.tr .name a:text-is("{last}")').click()
    page.wait_for_selector('[data-testid="config"]')
    assert "finished" in page.get_by_test_id("state").inner_text()
    assert "lion" in page.get_by_test_id("config").inner_text() or "sgd" in page.get_by_test_id("config").inner_text()
    screenshot(page, tmp_path, "run-overview")
    page.locator('.tabs a:text-is("charts")').click()
    page.wait_for_selector('.panel[data-metric="train/loss"]')
    screenshot(page, tmp_path, "run-charts")
    page.locator('.tabs a:text-is("media")').click()
    page.wait_for_selector('[data-testid="image"]')
    page.wait_for_function("document.querySelector('[data-testid=\"image\"]').complete && "
                           "document.querySelector('[data-testid=\"image\"]').naturalWidth > 0")
    pixels = page.evaluate("""() => {
        const img = document.querySelector('[data-testid="image"]');
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
        const g = canvas.getContext('2d'); g.drawImage(img, 0, 0);
        const data = g.getImageData(0, 0, canvas.width, canvas.height).data;
        return {w: canvas.width, h: canvas.height, data: Array.from(data)};
    }""")
    shown = np.array(pixels["data"], dtype=np.uint8).reshape(pixels["h"], pixels["w"], 4)[..., :3]
    np.testing.assert_array_equal(shown, _ui_data.image())  # the last step's image, pixel for pixel
    table = page.get_by_test_id("table-medium")
    assert table.locator("tbody tr").count() == 7
    assert table.locator("tbody tr").nth(3).inner_text().split("\t")[:2] == ["3", "class-3"]
    screenshot(page, tmp_path, "run-media")
    page.locator('.media .slider input').fill("0")  # the step slider shows step 0's image
    page.wait_for_function("document.querySelector('[data-testid=\"media-step\"]').textContent === '0'")


def test_a_long_series_is_drawn_from_buckets_with_every_spike_and_zoom_reaches_the_raw_points(
        page: Any, local_ui: LocalUI, tmp_path: Path) -> None:
    page.goto(f"http://127.0.0.1:{local_ui.port}/local/long")
    page.wait_for_selector('.panel[data-metric="train/loss"][data-series="1"]')
    panel = page.locator('.panel[data-metric="train/loss"]')
    assert panel.get_attribute("data-bucketed") == "1"
    assert "min/max buckets" in panel.inner_text()  # the chart says what it shows
    page.wait_for_function("Number(document.querySelector('.panel[data-metric=\"train/loss\"]').dataset.ymax) >= 80")
    assert int(panel.get_attribute("data-points")) <= page.viewport_size["width"]  # buckets for the width, not 20,000
    screenshot(page, tmp_path, "long-series-buckets")
    spike = 12_345
    page.goto(f"http://127.0.0.1:{local_ui.port}/local/long?range={spike - 50}~{spike + 50}")
    page.wait_for_selector('.panel[data-metric="train/loss"][data-bucketed="0"]')
    panel = page.locator('.panel[data-metric="train/loss"]')
    assert panel.get_attribute("data-points") == "101"  # every raw point of the zoomed range
    page.wait_for_function("Number(document.querySelector('.panel[data-metric=\"train/loss\"]').dataset.ymax) >= 80")
    box = panel.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)  # the middle: the spike's step
    page.wait_for_function("document.querySelector('.panel[data-metric=\"train/loss\"] .readout').dataset.x !== ''")
    step = int(float(panel.locator(".readout").get_attribute("data-x")))
    expected = _ui_data.SPIKES.get(step, 1.0 + (step % 7) * 0.01)
    assert float(panel.locator(".read").first.get_attribute("data-value")) == expected


def test_compare_highlights_config_differences(page: Any, local_ui: LocalUI, tmp_path: Path) -> None:
    page.goto(f"http://127.0.0.1:{local_ui.port}/local/vision")
    page.wait_for_selector(".tr")
    for name in ("run-00", "run-01"):
        page.locator(".tr", has=page.locator(f'a:text-is("{name}")')).locator("input[type=checkbox]").check()
    page.locator('a:text-is("compare 2 runs")').click()
    page.wait_for_selector('[data-testid="config-diff"] tbody tr')
    differs = page.locator('[data-testid="config-diff"] tr.differs th').all_inner_texts()
    assert sorted(differs) == ["depth", "lr", "optimizer"]
    page.wait_for_selector(".vega canvas, .vega svg")
    screenshot(page, tmp_path, "compare")


def test_artifacts_show_versions_and_a_clickable_lineage_graph(page: Any, local_ui: LocalUI, tmp_path: Path) -> None:
    page.goto(f"http://127.0.0.1:{local_ui.port}/local/vision/artifacts")
    page.wait_for_selector('[data-testid="lineage"]')
    assert sorted(page.locator("[data-node]").evaluate_all("nodes => nodes.map(n => n.dataset.node)")) == [
        "dataset:v0", "model:v0", "run-00", "run-01"]
    dataset = page.locator('tr[data-artifact="dataset:v0"]')
    assert "golden" in dataset.inner_text() and "run-00" in dataset.inner_text() and "run-01" in dataset.inner_text()
    page.locator('[data-node="model:v0"]').click()  # trace the model: its upstream is lit, nothing else dims it
    assert page.locator('[data-node="run-00"]').get_attribute("opacity") == "1"
    screenshot(page, tmp_path, "artifacts")
    page.locator('[data-node="run-01"]').click()
    page.wait_for_selector('[data-testid="config"]')
    page.locator('.tabs a:text-is("artifacts")').click()
    assert "model:v0" in page.get_by_test_id("logged").inner_text()
    assert "dataset:v0" in page.get_by_test_id("used").inner_text()


def test_a_run_logging_in_a_child_process_appears_and_its_chart_grows_without_reload(
        page: Any, local_ui: LocalUI, tmp_path: Path) -> None:
    page.goto(f"http://127.0.0.1:{local_ui.port}/local/vision")
    page.wait_for_selector(".tr")
    page.evaluate("window.__same_page = true")
    child = subprocess.Popen([sys.executable, str(DATA), str(local_ui.store), "live", "live-run", "60"], env=_env())
    try:
        page.wait_for_selector('.tr .name a:text-is("live-run")', timeout=30000)
        page.locator(".tr", has=page.locator('a:text-is("live-run")')).locator("input[type=checkbox]").check()
        page.wait_for_selector('.panel[data-metric="train/loss"][data-series="1"]')
        panel = page.locator('.panel[data-metric="train/loss"]')
        first = int(panel.get_attribute("data-points"))
        page.wait_for_function(f"Number(document.querySelector('.panel[data-metric=\"train/loss\"]').dataset.points) "
                               f"> {first + 3}", timeout=20000)
        assert page.evaluate("window.__same_page") is True  # pushed over SSE, no reload
        screenshot(page, tmp_path, "workspace-live")
    finally:
        child.wait(timeout=120)


class _Attacker(http.server.BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: Any) -> None:
        pass


def test_team_server_needs_sign_in_and_a_session_cannot_act_cross_site(browser: Any, tmp_path: Path) -> None:
    server = Server(tmp_path / "server").start()
    try:
        key = new_key(server.data, "research", "sf-box")
        run_id = post_run(server.client(key), "research", make_run(steps=5, config={"lr": 0.1}))
        context = browser.new_context(viewport={"width": 1200, "height": 800})
        page = context.new_page()
        with httpx.Client(base_url=server.url) as anonymous:
            assert anonymous.get("/api/v1/runs/research/p").status_code == 401
        page.goto(server.url + "/research/p")
        page.wait_for_selector("form.signin")
        screenshot(page, tmp_path, "sign-in")
        page.fill('input[name="key"]', "trk_" + "B" * 43)
        page.click('button[type="submit"]')
        page.wait_for_selector('[data-testid="signin-error"]')
        page.fill('input[name="key"]', key)
        page.click('button[type="submit"]')
        page.wait_for_selector(".tr")
        assert rows(page) == [run_id]
        cookies = {c["name"]: c for c in context.cookies()}
        session = cookies["tracker_session"]
        assert session["httpOnly"] and session["sameSite"] == "Strict"
        assert key not in str(cookies)

        target = f"/api/v1/runs/research/p/{run_id}"
        jar = {"tracker_session": session["value"]}
        csrf = cookies["tracker_csrf"]["value"]
        with httpx.Client(base_url=server.url, cookies=jar) as client:
            assert client.get(target).status_code == 200
            refused = client.patch(target, json={"notes": "no token"})
            assert refused.status_code == 403 and refused.json()["error"] == "csrf"
            elsewhere = client.patch(target, json={"notes": "x"}, headers={"X-CSRF-Token": csrf,
                                                                           "Origin": "http://evil.example"})
            assert elsewhere.status_code == 403
            marked = client.patch(target, json={"notes": "x"}, headers={"X-CSRF-Token": csrf,
                                                                        "Sec-Fetch-Site": "cross-site"})
            assert marked.status_code == 403
            own = client.patch(target, json={"notes": "mine"}, headers={"X-CSRF-Token": csrf, "Origin": server.url})
            assert own.status_code == 200 and own.json()["notes"] == "mine"

        port = free_port()  # a page of another site (localhost is not 127.0.0.1) tries to act with the session
        _Attacker.page = f"""<script>
          window.done = Promise.allSettled([
            fetch("{server.url}{target}", {{method: "PATCH", credentials: "include",
              headers: {{"Content-Type": "application/json"}}, body: '{{"notes": "pwned"}}'}}),
            fetch("{server.url}/api/v1/session", {{method: "DELETE", credentials: "include", mode: "no-cors"}}),
            fetch("{server.url}{target}/records", {{method: "POST", credentials: "include", mode: "no-cors",
              headers: {{"Content-Type": "text/plain"}}, body: '{{"seq": 99, "type": "log", "data": {{}}}}'}}),
          ]).then((r) => r.map((x) => x.status));</script>""".encode()
        attacker = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Attacker)
        threading.Thread(target=attacker.serve_forever, daemon=True).start()
        try:
            other = context.new_page()
            other.goto(f"http://localhost:{port}/")
            other.evaluate("window.done")
        finally:
            attacker.shutdown()
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as client:
            run = client.get(target).json()
            assert run["notes"] == "mine" and run["last_seq"] == len(
                (Path(os.environ["TRACKER_DIR"]) / "p" / run_id / "events.jsonl").read_bytes().splitlines())
        page.reload()  # the session survived the attempts (the sign-out was cross-site too)
        page.wait_for_selector(".tr")
        screenshot(page, tmp_path, "projects-team-server")
        context.close()
    finally:
        server.kill()

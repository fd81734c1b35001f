"""The sweep view in a real browser (Chromium via Playwright) over sweeps run by real agent processes: the local
``tracker ui`` over a store whose sweeps live in its SQLite file, and the team server with sign-in. The page
shows the sweep's state, method, metric and counts, its trials over time with the best so far, parallel
coordinates (each line, clicked or chosen by keyboard, opens its trial's run), Optuna's parameter importance
(or why there is none yet) and the trials table linking to the runs; new trials appear without a reload; its
runs open in the workspace with the sweep's metric as the main metric; sweep names and parameter values stay
text."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import test_web_ui
from _server import Server, new_key
from test_web_ui import LocalUI, _env, screenshot

bundle, browser = test_web_ui.bundle, test_web_ui.browser  # the module's fixtures: the built UI and Chromium

pytest.importorskip("optuna")
pytest.importorskip("sklearn", reason="parameter importance needs scikit-learn")

pytestmark = pytest.mark.slow

HOSTILE = '<img src=x onerror="window.__pwned=1">'
CONFIG = {"method": "random", "name": f"lr search {HOSTILE}", "metric": {"name": "val/loss", "goal": "minimize"},
          "parameters": {"lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
                         "optimizer": {"values": ["adam", "<b>sgd</b>"]},
                         "depth": {"distribution": "int_uniform", "min": 1, "max": 6}}}
AGENT = """
import math, sys, time
import tracker_core

config = {config!r}

def train():
    with tracker_core.init() as run:
        lr, depth = run.config["lr"], run.config["depth"]
        for step in range(3):  # the loss is mostly a matter of lr: importance must say so
            run.log({{"val/loss": (math.log10(lr) + 2.5) ** 2 + 0.01 * depth + 0.1 / (step + 1)}})
            time.sleep(float(sys.argv[3]))

sweep_id = sys.argv[1]
if sweep_id == "new":
    sweep_id = tracker_core.sweep(sweep=config, project="tune", seed=int(sys.argv[4]))
    print(sweep_id, flush=True)
tracker_core.agent(sweep_id, function=train, count=int(sys.argv[2]))
"""
SHOT = Path("/tmp/sweep_view.png")
# A point on the trial's drawn line where the trial's link is what the pointer meets (lines cross), in page pixels.
ON_LINE = """n => {
  const a = document.querySelector(`[data-testid=parallel] a[data-trial="${n}"]`);
  const line = a.querySelector("polyline:not(.hit)"), m = line.getScreenCTM(), pts = line.points;
  for (let i = 0; i + 1 < pts.numberOfItems; i++) for (let f = 0.05; f < 1; f += 0.05) {
    const p = pts.getItem(i), q = pts.getItem(i + 1), x = p.x + f * (q.x - p.x), y = p.y + f * (q.y - p.y);
    const sx = m.a * x + m.c * y + m.e, sy = m.b * x + m.d * y + m.f;
    if (document.elementFromPoint(sx, sy)?.closest("a") === a) return [sx, sy];
  }
  return null;
}"""


def _agent(tmp_path: Path, env: dict[str, str], sweep: str, count: int, pause: float, seed: int = 7,
           config: dict[str, Any] | None = None) -> subprocess.Popen[str]:
    script = tmp_path / f"agent-{time.monotonic_ns()}.py"
    script.write_text(AGENT.format(config=config or CONFIG))
    return subprocess.Popen([sys.executable, str(script), sweep, str(count), str(pause), str(seed)], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen[str], timeout: float = 180) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out.strip().splitlines()[0] if out.strip() else ""


@pytest.fixture(scope="module")
def sweep_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalUI, str, str, Path]]:
    base = tmp_path_factory.mktemp("sweep-ui")
    env = {**_env(), "TRACKER_DIR": str(base / "store")}
    env.pop("TRACKER_SERVER", None)
    sweep_id = _finish(_agent(base, env, "new", 8, 0.0))
    few = {**CONFIG, "name": "tiny"}
    tiny = _finish(_agent(base, env, "new", 2, 0.0, config=few))
    ui = LocalUI(base / "store", base / "cache")
    yield ui, sweep_id, tiny, base
    ui.stop()


def _rows(page: Any) -> list[str]:
    return [str(n) for n in page.locator('[data-testid="trials"] tbody tr[data-trial]').evaluate_all(
        "rows => rows.map(r => r.dataset.trial)")]


def _check_view(page: Any, trials: int) -> None:
    """What the page must show for a finished random sweep of ``trials`` trials of CONFIG."""
    page.wait_for_function(f"document.querySelectorAll('[data-testid=trials] tbody tr[data-trial]').length == {trials}",
                           timeout=30_000)
    title = page.locator(".sweep-page h1").inner_text()
    assert HOSTILE in title  # the name is text: shown as written, never an element
    assert page.locator(".sweep-page h1 img").count() == 0
    facts = page.locator(".sweep-facts").inner_text()
    assert "random" in facts and "val/loss" in facts and "minimize" in facts
    assert f"{trials} finished" in page.get_by_test_id("counts").inner_text()
    page.wait_for_selector('[data-testid="trials-chart"] canvas')
    page.wait_for_function(f"document.querySelector('[data-testid=trials-chart]').dataset.points == '{trials}'")
    assert page.locator('[data-testid="parallel"] a[data-trial]').count() == trials
    axes = page.locator('[data-testid="parallel"] [data-axis]').evaluate_all("gs => gs.map(g => g.dataset.axis)")
    assert axes == ["lr", "optimizer", "depth", "val/loss"]
    assert page.locator('[data-testid="parallel"] text', has_text="<b>sgd</b>").count() == 1  # a category, as text
    assert page.locator(".sweep-page b:text-is('sgd')").count() == 0
    page.wait_for_selector('[data-testid="importance"] [data-param]', timeout=60_000)
    shares = dict(page.locator('[data-testid="importance"] [data-param]').evaluate_all(
        "rows => rows.map(r => [r.dataset.param, Number(r.dataset.share)])"))
    assert set(shares) == {"lr", "optimizer", "depth"} and abs(sum(shares.values()) - 1) < 1e-6
    assert max(shares, key=lambda name: shares[name]) == "lr"
    best = page.get_by_test_id("sweep-best").inner_text()
    assert "trial" in best
    assert page.evaluate("window.__pwned") is None


def _pick_line(page: Any, trial: int) -> tuple[float, float]:
    page.locator(f'[data-testid="parallel"] a[data-trial="{trial}"]').scroll_into_view_if_needed()
    point = page.evaluate(ON_LINE, trial)
    assert point, f"no point of trial {trial}'s line is uncovered"
    return point[0], point[1]


def _lines_open_runs(page: Any, sweep_id: str, tmp_path: Path) -> None:
    """Hovering a line names its trial and run (user text as text); clicking it or Enter on it opens the run."""
    titles = page.locator('[data-testid="parallel"] a[data-trial]').evaluate_all(
        "links => links.map(a => [Number(a.dataset.trial), a.dataset.run, a.querySelector('title').textContent])")
    trial, run_id, title = next(t for t in titles if "optimizer=<b>sgd</b>" in t[2])  # a hostile category's trial
    x, y = _pick_line(page, trial)
    page.mouse.move(x, y)
    readout = page.get_by_test_id("parallel-readout")
    readout.wait_for()
    assert readout.inner_text() == title and title.startswith(f"trial {trial} · run {run_id} (finished): lr=")
    assert readout.locator("b").count() == 0
    assert page.locator(f'[data-testid="parallel"] a.hovered[data-trial="{trial}"]').count() == 1
    screenshot(page, tmp_path, "sweep-parallel-hover")
    page.mouse.click(x, y)
    page.wait_for_selector('.run-page')
    assert page.get_by_test_id("run-sweep").inner_text() == f"{sweep_id} trial {trial}"
    page.go_back()
    page.wait_for_selector(f'.sweep-page[data-sweep="{sweep_id}"] [data-testid="parallel"] a[data-trial]')
    other = next(t for t in titles if t[0] != trial)
    page.mouse.move(0, 0)  # the pointer off the chart: the focused line is the one shown
    page.locator(f'[data-testid="parallel"] a[data-trial="{other[0]}"]').focus()  # the keyboard's way
    assert page.get_by_test_id("parallel-readout").inner_text() == other[2]
    page.keyboard.press("Enter")
    page.wait_for_function("want => document.querySelector('[data-testid=run-sweep]')?.innerText === want",
                           arg=f"{sweep_id} trial {other[0]}")
    page.go_back()
    page.wait_for_selector(f'.sweep-page[data-sweep="{sweep_id}"]')


def _listing_requests(page: Any) -> list[str]:
    """The addresses of the run listings and best-run reads the page asks from now on (filled as it does)."""
    seen: list[str] = []

    def note(request: Any) -> None:
        path = urlsplit(request.url).path
        if re.fullmatch(r"/api/v1/(runs|best)/[^/]+/[^/]+", path):
            seen.append(request.url)

    page.on("request", note)
    return seen


def _scoped_by_the_server(requests: list[str], sweep_id: str) -> None:
    """The workspace's listing and best run were asked for the sweep by its id, with no list of run ids."""
    scoped = [u for u in requests if parse_qs(urlsplit(u).query).get("sweep") == [sweep_id]]
    assert any("/api/v1/runs/" in u for u in scoped) and any("/api/v1/best/" in u for u in scoped), requests
    assert all("$in" not in unquote(u) and len(u) < 400 for u in requests), requests


def _sweep_runs_in_the_workspace(page: Any, sweep_id: str, trials: int, tmp_path: Path) -> None:
    """The sweep page's link opens the workspace over the sweep's runs only (the server's listing scoped to the
    sweep), ranked on the sweep's metric (minimize: the lowest first), until the user picks another goal;
    the compare page opened from there links back to the same scoped workspace."""
    best_run = page.get_by_test_id("sweep-best").locator("a").inner_text()
    requests = _listing_requests(page)
    page.get_by_test_id("sweep-runs").click()
    page.wait_for_url(re.compile(rf"sweep={sweep_id}"))
    page.wait_for_function(f"document.querySelectorAll('.tr').length === {trials}")
    assert HOSTILE in page.get_by_test_id("sweep-filter").inner_text()
    page.wait_for_selector(f'[data-testid="best"][data-run="{best_run}"]')
    assert "Best run on val/loss (lowest)" in page.locator(".best-title").inner_text()
    assert page.locator('.thead .th[data-field="summary.val/loss"]').count() == 1
    assert page.locator(".tr").first.get_attribute("data-run") == best_run  # ascending: the lowest loss first
    values = [float(v) for v in page.locator('.tr .cell[data-field="summary.val/loss"]').all_inner_texts()]
    assert values == sorted(values) and len(values) == trials
    assert "metric=" not in page.url and "sort=" not in page.url  # defaults, not written into the link
    screenshot(page, tmp_path, "sweep-runs-workspace")
    page.locator('.chooser select[title="goal"]').select_option("max")  # the user's choice wins over the sweep's
    page.wait_for_url(re.compile(r"metric=max"))
    page.wait_for_function("document.querySelector('.best-title').innerText.includes('(highest)')")
    assert page.locator(".tr").first.get_attribute("data-run") != best_run
    _scoped_by_the_server(requests, sweep_id)
    _compare_and_back(page, sweep_id, trials, tmp_path)
    page.get_by_test_id("sweep-filter").locator("button").click()  # all the project's runs again
    page.wait_for_function(f"document.querySelectorAll('.tr').length > {trials}")


def _compare_and_back(page: Any, sweep_id: str, trials: int, tmp_path: Path) -> None:
    """Two of the sweep's runs compared; the compare page's link back opens the workspace still scoped to the
    sweep, with its goal, sort and selection as they were."""
    picked = [page.locator(".tr").nth(i).get_attribute("data-run") for i in (0, 1)]
    for run_id in picked:
        page.locator(f'.tr[data-run="{run_id}"] input[type=checkbox]').check()
    page.wait_for_url(re.compile(r"sel="))
    before = parse_qs(urlsplit(page.url).query)
    best_title = page.locator(".best-title").inner_text()
    page.locator('a:text-is("compare 2 runs")').click()
    page.wait_for_selector('[data-testid="config-diff"] tbody tr')
    assert urlsplit(page.url).path.endswith("/compare") and parse_qs(urlsplit(page.url).query) == before
    back = page.get_by_test_id("compare-back")
    page.wait_for_function("document.querySelector('[data-testid=compare-back]').innerText.includes('lr search')")
    assert back.inner_text().endswith(f"/ sweep {CONFIG['name']}") and back.locator("img").count() == 0
    page.wait_for_selector(".vega canvas, .vega svg")
    screenshot(page, tmp_path, "sweep-compare")
    back.click()
    page.wait_for_selector(".workspace")
    assert urlsplit(page.url).path.count("/") == 2 and parse_qs(urlsplit(page.url).query) == before
    page.wait_for_function(f"document.querySelectorAll('.tr').length === {trials}")  # the sweep's runs, no others
    assert HOSTILE in page.get_by_test_id("sweep-filter").inner_text()
    assert page.locator(".best-title").inner_text() == best_title
    checked = page.locator(".tr input[type=checkbox]:checked").evaluate_all(
        "boxes => boxes.map(b => b.closest('.tr').dataset.run)")
    assert sorted(checked) == sorted(picked)


def test_the_local_ui_shows_a_local_sweep_and_its_new_trials_without_reload(
        browser: Any, sweep_store: tuple[LocalUI, str, str, Path], tmp_path: Path) -> None:
    ui, sweep_id, tiny, base = sweep_store
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(ui.url)
    page.goto(f"http://127.0.0.1:{ui.port}/local/tune")
    page.wait_for_selector(f'[data-testid="project-sweeps"] [data-sweep="{sweep_id}"]')  # from the workspace
    screenshot(page, tmp_path, "workspace-sweeps")
    page.locator(f'[data-testid="project-sweeps"] [data-sweep="{sweep_id}"]').click()
    page.wait_for_selector(f'.sweep-page[data-sweep="{sweep_id}"]')
    _check_view(page, 8)
    assert page.get_by_test_id("sweep-state").inner_text() == "running"  # random: it goes on while agents come

    page.evaluate("window.__still_here = true")
    env = {**_env(), "TRACKER_DIR": str(ui.store)}
    more = _agent(base, env, sweep_id, 3, 0.3)  # a new agent joins while the page is open
    page.wait_for_function("document.querySelectorAll('[data-testid=trials] tbody tr[data-trial]').length == 11",
                           timeout=60_000)
    _finish(more)
    page.wait_for_function("document.querySelector('[data-testid=trials-chart]').dataset.points == '11'",
                           timeout=30_000)
    assert page.evaluate("window.__still_here") is True  # no reload
    assert _rows(page)[0] == "10"  # newest first
    page.wait_for_function("document.querySelectorAll('[data-testid=parallel] a[data-trial]').length == 11")
    page.wait_for_timeout(500)
    screenshot(page, tmp_path, "sweep-view")
    shutil.copy(tmp_path / "sweep-view.png", SHOT)

    page.locator('[data-testid="trials"] tbody tr[data-trial="3"] a').click()  # a trial's row opens its run
    page.wait_for_selector(".run-page")
    assert page.get_by_test_id("state").inner_text().startswith("finished")
    assert page.get_by_test_id("run-sweep").inner_text() == f"{sweep_id} trial 3"  # and back to its sweep
    page.get_by_test_id("run-sweep").locator("a").click()
    page.wait_for_selector(f'.sweep-page[data-sweep="{sweep_id}"]')
    _check_view(page, 11)
    _lines_open_runs(page, sweep_id, tmp_path)
    _sweep_runs_in_the_workspace(page, sweep_id, 11, tmp_path)

    page.goto(f"http://127.0.0.1:{ui.port}/local/tune/sweeps")
    page.wait_for_selector(f'[data-testid="sweeps"] [data-sweep="{tiny}"]')
    assert page.locator('[data-testid="sweeps"] tbody tr[data-sweep]').count() == 2
    page.locator(f'[data-testid="sweeps"] [data-sweep="{tiny}"] a').first.click()
    page.wait_for_selector('[data-testid="importance-note"]', timeout=30_000)
    assert "needs at least 5 finished trials" in page.get_by_test_id("importance-note").inner_text()
    context.close()
    assert not errors, errors


def test_the_team_servers_sweep_view_after_sign_in(browser: Any, tmp_path: Path) -> None:
    server = Server(tmp_path / "server").start()
    try:
        key = new_key(server.data, "research", "box")
        env = {**_env(), "TRACKER_SERVER": server.url, "TRACKER_API_KEY": key, "TRACKER_DIR": str(tmp_path / "a")}
        path = _finish(_agent(tmp_path, env, "new", 6, 0.0, seed=3))
        sweep_id = path.rsplit("/", 1)[1]
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(server.url + "/research/tune/sweeps")
        page.wait_for_selector("form.signin")
        page.fill('input[name="key"]', key)
        page.click('button[type="submit"]')
        page.wait_for_selector(f'[data-testid="sweeps"] [data-sweep="{sweep_id}"]')
        page.locator(f'[data-testid="sweeps"] [data-sweep="{sweep_id}"] a').first.click()
        page.wait_for_selector(f'.sweep-page[data-sweep="{sweep_id}"]')
        _check_view(page, 6)
        screenshot(page, tmp_path, "sweep-view-team-server")
        requests = _listing_requests(page)
        page.get_by_test_id("sweep-runs").click()  # the workspace scoped to the sweep, and compare from there
        page.wait_for_url(re.compile(rf"sweep={sweep_id}"))
        page.wait_for_function("document.querySelectorAll('.tr').length === 6")
        page.wait_for_selector('[data-testid="best"]')
        _scoped_by_the_server(requests, sweep_id)
        _compare_and_back(page, sweep_id, 6, tmp_path)
        page.goto(f"{server.url}/research/tune/sweeps/{sweep_id}")
        page.wait_for_selector(f'.sweep-page[data-sweep="{sweep_id}"] [data-testid="trials"] tbody tr[data-trial="0"]')
        page.locator('[data-testid="trials"] tbody tr[data-trial="0"] a').click()  # the trial's run on the server
        page.wait_for_selector(".run-page")
        assert page.get_by_test_id("run-sweep").inner_text() == f"{sweep_id} trial 0"
        context.close()
        assert not errors, errors
    finally:
        server.kill()

"""Reports in a real browser (Debian's Chromium driven by Playwright) against a real team server process:
write a report with three panels in the editor, save, reload; a new better run shows up in the live best-run
card and line chart without editing; a pinned block stays as it was; the export opens from file:// with the
server stopped and shows the same numbers; the PDF has the charts; a share link shows the report and nothing
else and, with no event stream for its token, re-reads its unpinned panels while visible (a new better run
appears, a pinned block stays); XSS payloads in Markdown and in run names render inert; a stale save is refused
with both texts kept."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import test_web_ui
from _server import Server, make_run, new_key, post_run
from test_web_ui import _env

bundle, browser = test_web_ui.bundle, test_web_ui.browser  # the module's fixtures: the built UI and Chromium

pytestmark = pytest.mark.slow

TEAM, PROJECT = "research", "p"
XSS_NAME = "<img src=x onerror=\"window.__xss='run-name'\">"
XSS_MARKDOWN = """# Weekly best runs

Why they worked: a lower learning rate, $\\eta = 10^{-3}$, and [the paper](https://example.org/paper).

- first point
- second point

<script>window.__xss = 'script'</script>
<img src=x onerror="window.__xss='img'">
[click me](javascript:window.__xss='link')
<a href="javascript:window.__xss='a'">raw link</a>
"""


def _run(name: str, lr: float, final: float, steps: int = 6) -> Path:
    """A finished run whose val/loss falls linearly from 2.0 to ``final``."""
    return make_run(project=PROJECT, steps=steps, config={"lr": lr}, name=name,
                    metrics=lambda s: {"val/loss": final if s == steps - 1 else 2.0 + (final - 2.0) * s / (steps - 1)})


@pytest.fixture
def team(tmp_path: Path, db_url: str | None) -> Iterator[tuple[Server, str, httpx.Client]]:
    """A team server over SQLite, then over a fresh PostgreSQL database, with a member's key and client."""
    server = Server(tmp_path / "server", db=db_url).start()
    key = new_key(server.data, TEAM, "reports-box", db=db_url)
    client = server.client(key)
    try:
        yield server, key, client
    finally:
        client.close()
        server.kill()


def _sign_in(browser: Any, server: Server, key: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 1300, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server.url}/{TEAM}/{PROJECT}")
    page.wait_for_selector("form.signin")
    page.fill('input[name="key"]', key)
    page.click('button[type="submit"]')
    page.wait_for_selector('[data-testid="user"]')
    return context, page, errors


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=f"/tmp/report_{name}.png", full_page=True)


def _panel(page: Any, index: int) -> Any:
    return page.locator(f'.report-panel[data-block="{index}"]')


def _wait_ready(page: Any, count: int) -> None:
    try:
        page.wait_for_function(f"document.querySelectorAll('.report-panel[data-state=\"ready\"]').length === {count}",
                               timeout=30_000)
    except Exception:
        _shot(page, "not_ready")  # what the page shows instead, for the failure's reader
        raise


def _configure(page: Any, block: int, values: dict[str, str]) -> None:
    form = page.locator(f'.edit-block[data-block="{block}"] .panel-form')
    if "type" in values:
        form.locator('select[name="type"]').select_option(values.pop("type"))
    for name, value in values.items():
        field = form.locator(f'[name="{name}"]')
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def _write_report(page: Any) -> str:
    """The three-panel report made in the editor; returns its id."""
    page.click('[data-testid="reports-link"]')
    page.fill('input[name="new-title"]', "Weekly best runs")
    page.click('[data-action="create"]')
    page.wait_for_selector(".editor")
    report_id = page.url.split("/reports/")[1].split("?")[0]
    page.fill('.edit-block[data-block="0"] textarea[name="markdown"]', XSS_MARKDOWN)
    for _ in range(3):
        page.locator(".edit-block").last.locator('[data-action="add-panel"]').click()
    _configure(page, 1, {"type": "line", "title": "Validation loss", "metric": "val/loss"})
    _configure(page, 2, {"type": "best", "title": "Best run", "metric": "val/loss", "goal": "min"})
    _configure(page, 3, {"type": "table", "title": "All runs", "columns": "config.lr, summary.val/loss",
                         "runs.order": "summary.val/loss"})
    _shot(page, "editor")
    page.click('[data-action="save"]')
    page.wait_for_selector('[data-testid="notice"]:has-text("saved revision")')
    return report_id


def _best(page: Any, index: int = 2) -> tuple[str, str]:
    card = _panel(page, index).locator('[data-testid="best-card"]')
    return str(card.get_attribute("data-run")), card.get_attribute("data-value") or ""


def _visibility(page: Any, state: str) -> None:
    """The page as the browser reports it when its tab goes to the back ("hidden") or to the front again."""
    page.evaluate("""state => {
        Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => state});
        document.dispatchEvent(new Event('visibilitychange')); }""", state)


def _line_runs(page: Any) -> int:
    return int(_panel(page, 1).locator(".panel").get_attribute("data-drawn") or 0)


def test_write_live_pin_export(browser: Any, team: tuple[Server, str, httpx.Client], tmp_path: Path) -> None:
    server, key, client = team
    first = post_run(client, TEAM, _run(XSS_NAME, 0.1, 0.9))
    second = post_run(client, TEAM, _run("run-b", 0.01, 0.6))
    context, page, errors = _sign_in(browser, server, key)
    report_id = _write_report(page)

    stored = client.get(f"/api/v1/reports/{report_id}").json()
    specs = [b["spec"] for b in stored["blocks"] if b["kind"] == "panel"]
    assert [(s["type"], s.get("metric")) for s in specs] == [("line", "val/loss"), ("best", "val/loss"),
                                                             ("table", None)]
    assert specs[2]["columns"] == ["config.lr", "summary.val/loss"] and specs[2]["runs"]["order"] == "summary.val/loss"
    page.reload()  # saved: the same document and panels after a reload
    _wait_ready(page, 3)
    assert page.get_by_test_id("report-title").inner_text() == "Weekly best runs"
    assert page.locator(".report-text h1").inner_text() == "Weekly best runs"
    assert page.locator(".report-text .katex").count() == 1
    assert page.locator(".report-text a[href^='javascript']").count() == 0
    assert page.evaluate("window.__xss") is None  # neither the Markdown nor the run name ran
    assert page.locator(".report-panel script, .report-text script").count() == 0
    assert XSS_NAME in _panel(page, 3).inner_text()  # the run's name shows as text
    assert _best(page) == (second, "0.6")
    page.wait_for_function("document.querySelector('.report-panel[data-block=\"1\"] .panel')?.dataset.drawn === '2'")
    _shot(page, "saved")

    third = post_run(client, TEAM, _run("run-c", 0.001, 0.3))  # a better run: live, no edit
    page.wait_for_function(f"document.querySelector('[data-testid=\"best-card\"]')?.dataset.run === '{third}'",
                           timeout=30_000)
    page.wait_for_function("document.querySelector('.report-panel[data-block=\"1\"] .panel')?.dataset.drawn === '3'",
                           timeout=30_000)
    assert _best(page) == (third, "0.3")
    assert page.locator('.report-panel[data-block="3"] tr[data-run]').count() == 3
    _shot(page, "live")

    _panel(page, 2).locator('[data-action="pin"]').click()  # pin the best-run card, then a still better run
    page.wait_for_selector('.report-panel[data-block="2"][data-pinned="1"]')
    fourth = post_run(client, TEAM, _run("run-d", 0.0005, 0.1))
    page.wait_for_function("document.querySelector('.report-panel[data-block=\"1\"] .panel')?.dataset.drawn === '4'",
                           timeout=30_000)
    page.wait_for_selector(f'.report-panel[data-block="3"] tr[data-run="{fourth}"]', timeout=30_000)
    assert _best(page) == (third, "0.3")  # pinned: the snapshot, not the newest best
    _shot(page, "pinned")
    assert page.evaluate("window.__xss") is None

    # the export button: HTML from the page
    with page.expect_download() as done:
        page.click('[data-action="export-html"]')
    button_html = Path(done.value.path()).read_text()
    assert "0.3" in button_html and "<script" not in button_html

    env = {**_env(), "TRACKER_SERVER": server.url, "TRACKER_API_KEY": key}
    out = tmp_path / "export"
    for fmt in ("html", "pdf", "md"):
        made = subprocess.run([sys.executable, "-m", "tracker_core.cli", "report", "export", report_id,
                               "--format", fmt, "-o", str(out / f"weekly.{fmt}")], env=env, capture_output=True,
                              text=True, timeout=180)
        assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in (out / "weekly_figures").iterdir()) == [
        "panel-1-validation-loss.csv", "panel-1-validation-loss.svg", "panel-2-best-run.csv", "panel-3-all-runs.csv"]
    assert "val/loss" in (out / "weekly_figures" / "panel-1-validation-loss.csv").read_text()
    shown = {"best": _best(page), "rows": page.locator('.report-panel[data-block="3"] tr[data-run]').count(),
             "cells": sorted(page.locator('.report-panel[data-block="3"] td[data-field="summary.val/loss"]')
                             .all_inner_texts())}
    server.kill()  # the file needs no server

    offline = context.new_page()
    offline.goto((out / "weekly.html").as_uri())
    assert offline.locator(".scalar").get_attribute("data-value") == shown["best"][1]
    assert offline.locator('section[data-type="line"] svg g[data-run]').count() == 4
    cells = sorted(offline.locator('section[data-type="table"] td[data-field="summary.val/loss"]').all_inner_texts())
    assert cells == shown["cells"] and len(cells) == shown["rows"]
    assert offline.evaluate("window.__xss") is None
    offline.screenshot(path="/tmp/report_export_html.png", full_page=True)

    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "2", str(out / "weekly.pdf"),
                        "/tmp/report_pdf"], check=True, timeout=60)
        text = subprocess.run(["pdftotext", str(out / "weekly.pdf"), "-"], capture_output=True, text=True,
                              timeout=60).stdout
        assert "Validation loss" in text and "Best run" in text and shown["best"][1] in text
    context.close()
    assert not errors, errors
    assert first and second


def test_share_link_shows_the_report_and_nothing_else(browser: Any, team: tuple[Server, str, httpx.Client]) -> None:
    server, key, client = team
    shown = post_run(client, TEAM, _run("shown", 0.1, 0.5))
    best = {"type": "best", "title": "Best run", "metric": "val/loss", "goal": "min",
            "runs": {"project": f"{TEAM}/{PROJECT}"}}
    hidden = post_run(client, TEAM, make_run(project="secret", steps=3, config={"lr": 9}, name="hidden"),
                      project="secret")
    made = client.post("/api/v1/reports", json={"project": f"{TEAM}/{PROJECT}", "title": "Shared <i>view</i>",
                                                "blocks": [{"kind": "markdown", "text": "Only **this**."},
                                                           {"kind": "panel", "spec": {"type": "table", "title": "Runs",
                                                            "columns": ["config.lr"], "runs": {"ids": [shown]}}},
                                                           {"kind": "panel", "spec": best},
                                                           {"kind": "panel", "spec": {**best, "title": "Pinned"}}]})
    assert made.status_code == 201, made.text
    report_id = made.json()["id"]
    assert client.post(f"/api/v1/reports/{report_id}/blocks/3/pin").status_code in (200, 201)  # a snapshot of `shown`
    context, page, errors = _sign_in(browser, server, key)
    page.goto(f"{server.url}/reports/{report_id}")
    _wait_ready(page, 3)
    page.click('[data-action="share"]')
    page.wait_for_selector('[data-testid="share-link"]')
    link = page.get_by_test_id("share-link").inner_text()
    token = link.rstrip("/").split("/")[-1]

    anonymous = browser.new_context(viewport={"width": 1100, "height": 800})  # no sign-in, no cookies
    reader = anonymous.new_page()
    calls: list[str] = []
    reader.on("request", lambda request: calls.append(request.url))
    reader.goto(link)
    _wait_ready(reader, 3)
    assert _best(reader) == (shown, "0.5") and _best(reader, 3) == (shown, "0.5")
    assert reader.get_by_test_id("report-title").inner_text() == "Shared <i>view</i>"
    assert reader.locator('tr[data-run]').all_inner_texts()[0].startswith("shown")
    assert reader.locator("form.signin").count() == 0 and reader.locator("header").count() == 0
    api = sorted({re.sub(r"\?.*", "", u.replace(server.url, "")) for u in calls if "/api/" in u})
    assert api == [f"/api/v1/shared/{token}"] + [f"/api/v1/shared/{token}/blocks/{i}/data" for i in (1, 2, 3)], api
    _shot(reader, "shared")

    # live without the event stream: the page re-reads its unpinned panels while it is visible, no reload
    better = post_run(client, TEAM, _run("better", 0.01, 0.2))
    reader.wait_for_function(f"document.querySelector('.report-panel[data-block=\"2\"] [data-testid=\"best-card\"]')"
                             f"?.dataset.run === '{better}'", timeout=30_000)
    assert _best(reader) == (better, "0.2")
    assert _best(reader, 3) == (shown, "0.5")  # pinned: the snapshot, not the newest best
    assert reader.locator('.report-panel[data-block="1"] tr[data-run]').count() == 1  # its run set is one id
    assert sum(u.endswith("/blocks/3/data") for u in calls) == 1  # the pinned panel is not read again
    _shot(reader, "shared_live")
    hidden_at = len(calls)  # hidden (another tab in front): no reads; shown again: one at once
    _visibility(reader, "hidden")
    reader.wait_for_timeout(7_000)  # more than one poll interval (5 s)
    assert [u for u in calls[hidden_at:] if "/blocks/" in u] == []
    with reader.expect_request(lambda r: r.url.endswith("/blocks/2/data"), timeout=3_000):  # before the next tick
        _visibility(reader, "visible")

    with httpx.Client(base_url=server.url) as nobody:
        data = nobody.get(f"/api/v1/shared/{token}/blocks/1/data").json()
        assert [r["id"] for r in data["runs"]] == [shown]
        assert set(data["runs"][0]["config"]) <= {"lr"}
        for path in (f"/api/v1/shared/{token}/blocks/0/data", f"/api/v1/shared/{token}/blocks/5/data",
                     f"/api/v1/shared/{token}/runs/{TEAM}/secret/{hidden}",
                     f"/api/v1/shared/{token}/runs/{TEAM}/{PROJECT}/{shown}"):
            assert nobody.get(path).status_code in (400, 404), path
        assert nobody.get(f"/api/v1/runs/{TEAM}/secret/{hidden}").status_code == 401
        assert nobody.get(f"/api/v1/reports/{report_id}").status_code == 401
        page.locator('.share [data-action="revoke"]').click()  # revoked from the report's page
        page.wait_for_selector(".share", state="detached")
        assert client.get(f"/api/v1/reports/{report_id}/shares").json()["shares"] == []
        assert nobody.get(f"/api/v1/shared/{token}").status_code == 404
    reader.reload()
    reader.wait_for_selector('[data-testid="error"]')
    assert "revoked" in reader.get_by_test_id("error").inner_text()
    anonymous.close()
    context.close()
    assert not errors, errors


def test_stale_save_is_refused_and_both_texts_are_kept(browser: Any, team: tuple[Server, str, httpx.Client]) -> None:
    server, key, client = team
    for name, lr, final in (("only", 0.1, 0.5), ("twin", 0.1, 0.3), ("small", 0.01, 0.2)):
        post_run(client, TEAM, _run(name, lr, final))
    made = client.post("/api/v1/reports", json={"project": f"{TEAM}/{PROJECT}", "title": "Shared doc", "blocks": [
        {"kind": "markdown", "text": "original"},
        {"kind": "panel", "spec": {"type": "best", "metric": "val/loss", "runs": {"filters": "config.lr>100"}}},
        {"kind": "panel", "spec": {"type": "line", "metric": "val/loss", "runs": {"group": "config.lr"}}}]})
    report_id = made.json()["id"]
    context, page, errors = _sign_in(browser, server, key)
    page.goto(f"{server.url}/reports/{report_id}")
    _wait_ready(page, 2)  # a run set that matches nothing says so in its panel
    assert "no run matches" in _panel(page, 1).get_by_test_id("panel-message").inner_text()
    grouped = _panel(page, 2).locator(".panel")  # grouped by config.lr: one mean line (and band) per group
    assert grouped.get_attribute("data-series") == "2"
    assert sorted(grouped.locator(".legend").all_inner_texts()) == ["0.01 (1 run)", "0.1 (2 runs)"]
    _shot(page, "grouped")
    _panel(page, 1).locator('[data-action="comment"]').click()  # the panel's own comment button picks it
    assert page.locator('select[name="comment-block"]').input_value() == "1"
    page.fill('textarea[name="comment"]', "<b>is</b> this the final number?")
    page.click('.comments button[type="submit"]')
    page.wait_for_selector('.comment[data-block="1"]')
    assert "<b>is</b> this the final number?" in page.locator(".comment-text").inner_text()
    [comment] = client.get(f"/api/v1/reports/{report_id}/comments").json()["comments"]
    assert comment["block"] == 1 and comment["author"] == "reports-box"
    page.click('[data-action="pin-all"]')  # the whole report pinned (revision 2): every panel holds a snapshot
    page.wait_for_selector('.report-panel[data-block="1"][data-pinned="1"]')
    stored = client.get(f"/api/v1/reports/{report_id}").json()
    assert stored["revision"] == 2 and all("pinned" in b["spec"] for b in stored["blocks"] if b["kind"] == "panel")
    page.click('[data-action="edit"]')
    page.fill('.edit-block[data-block="0"] textarea[name="markdown"]', "mine: browser text")
    theirs = client.put(f"/api/v1/reports/{report_id}", json={"base_revision": 2, "blocks": [
        {"kind": "markdown", "text": "theirs: saved first\n"}]})
    assert theirs.status_code == 200, theirs.text
    page.click('[data-action="save"]')
    page.wait_for_selector('[data-testid="conflict"]')
    conflict = page.get_by_test_id("conflict").inner_text()
    assert "Someone else saved this report" in conflict
    assert "theirs: saved first" in page.locator("pre.theirs").inner_text()
    assert page.locator('textarea[name="markdown"]').input_value() == "mine: browser text"  # mine is still here
    _shot(page, "conflict")
    history = client.get(f"/api/v1/reports/{report_id}/revisions").json()["revisions"]
    kept = [r for r in history if r["conflict"]]
    refused = client.get(f"/api/v1/reports/{report_id}/revisions/{kept[0]['revision']}").json() if kept else {}
    assert "mine: browser text" in refused["markdown"]
    assert client.get(f"/api/v1/reports/{report_id}").json()["markdown"].count("theirs: saved first") == 1

    page.click('[data-action="overwrite"]')  # the author decides: save mine on top of theirs
    page.wait_for_selector('.report-text:has-text("mine: browser text")')
    page.click('[data-action="history"]')
    page.wait_for_selector('[data-testid="revisions"] tr[data-revision]')
    page.locator('[data-testid="revisions"] tr[data-revision="3"] [data-action="diff"]').click()
    page.wait_for_selector('[data-testid="diff"] .del')
    assert "theirs: saved first" in page.locator('[data-testid="diff"] .del').first.inner_text()
    page.locator('[data-testid="revisions"] tr[data-revision="3"] [data-action="restore"]').click()
    page.wait_for_selector('.report-text:has-text("theirs: saved first")')
    _shot(page, "history")
    context.close()
    assert not errors, errors


def test_image_lineage_and_sweep_panels(browser: Any, team: tuple[Server, str, httpx.Client], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    import tracker_core

    server, key, client = team
    for name, value in (("TRACKER_SERVER", server.url), ("TRACKER_API_KEY", key), ("TRACKER_MODE", "online")):
        monkeypatch.setenv(name, value)
    (tmp_path / "model.bin").write_bytes(b"weights" * 100)
    producer = tracker_core.init(project=PROJECT, entity=TEAM, config={"lr": 0.1}, name="producer")
    for step in range(3):
        producer.log({"samples": tracker_core.Image(np.full((8, 8, 3), 60 * (step + 1), dtype=np.uint8),
                                                    caption=f"sample {step}")}, step=step)
    artifact = tracker_core.Artifact("model", type="model")
    artifact.add_file(str(tmp_path / "model.bin"))
    producer.log_artifact(artifact)
    producer.finish()
    consumer = tracker_core.init(project=PROJECT, entity=TEAM, name="evaluator")
    consumer.use_artifact("model:latest")
    consumer.finish()
    config = {"method": "grid", "metric": {"name": "val/loss", "goal": "minimize"},
              "parameters": {"lr": {"values": [0.1, 0.01, 0.001]}}}
    sweep_id = client.post(f"/api/v1/sweeps/{TEAM}/{PROJECT}", json={"config": config}).json()["id"]
    for value in (0.9, 0.4, 0.6):
        trial = client.post(f"/api/v1/sweeps/{TEAM}/{PROJECT}/{sweep_id}/claim", json={"agent": {"pid": 1}}).json()
        number = trial["trial"]["number"]
        ended = client.post(f"/api/v1/sweeps/{TEAM}/{PROJECT}/{sweep_id}/trials/{number}/end",
                            json={"state": "finished", "value": value})
        assert ended.status_code == 200, ended.text
    made = client.post("/api/v1/reports", json={"project": f"{TEAM}/{PROJECT}", "title": "Media, lineage, sweep",
                                                "blocks": [
        {"kind": "panel", "spec": {"type": "images", "title": "Samples", "key": "samples",
                                   "runs": {"ids": [producer.id]}}},
        {"kind": "panel", "spec": {"type": "lineage", "title": "Model lineage", "key": "model:v0"}},
        {"kind": "panel", "spec": {"type": "sweep", "title": "LR sweep", "key": sweep_id}}]})
    assert made.status_code == 201, made.text
    context, page, errors = _sign_in(browser, server, key)
    page.goto(f"{server.url}/reports/{made.json()['id']}")
    _wait_ready(page, 3)
    images = "[...document.querySelectorAll('.image-grid img')]"
    page.wait_for_function(f"{images}.length > 0 && {images}.every(i => i.complete && i.naturalWidth > 0)",
                           timeout=30_000)
    assert "sample" in _panel(page, 0).locator("figcaption").first.inner_text()
    nodes = _panel(page, 1).locator("[data-node]").evaluate_all("els => els.map(e => e.dataset.node)")
    assert any(n.startswith("model:v0") for n in nodes) and "producer" in nodes and "evaluator" in nodes
    page.wait_for_selector('.report-panel[data-block="2"] [data-testid="trials-chart"][data-points="3"]')
    trials = page.locator('.report-panel[data-block="2"] [data-testid="trials-chart"]')
    assert trials.get_attribute("data-best") == "0.4"
    lines = page.locator('.report-panel[data-block="2"] [data-testid="parallel"] a[data-trial]').evaluate_all(
        "links => links.map(a => [a.dataset.run, a.getAttribute('href')])")  # each trial's line opens its run
    assert len(lines) == 3 and all(href == f"/{TEAM}/{PROJECT}/runs/{run}" for run, href in lines), lines
    _shot(page, "media_lineage_sweep")
    out = tmp_path / "media.html"  # exported: the image inlined, the lineage and the sweep drawn as SVG
    done = subprocess.run([sys.executable, "-m", "tracker_core.cli", "report", "export", made.json()["id"], "-o",
                           str(out)], env={**_env(), "TRACKER_SERVER": server.url, "TRACKER_API_KEY": key},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    document = out.read_text()
    assert '<img src="data:image/png;base64,' in document and 'data-node="model:v0"' in document
    assert document.count("<svg") == 2 and "finished: 3" in document
    context.close()
    assert not errors, errors


def test_local_ui_lists_and_shows_a_report_of_the_store(browser: Any, tmp_path: Path, store: Path) -> None:
    from test_web_ui import LocalUI

    from tracker_core.reports import BestRun, LinePlot, Markdown, Report, RunSet

    run_dir = _run("local-run", 0.01, 0.4)
    Report(PROJECT, "Local notes", [Markdown("# Notes\n"),
                                    LinePlot(metric="val/loss", runs=RunSet(ids=[run_dir.name])),
                                    BestRun(metric="val/loss", goal="min", runs=RunSet())]).save()
    ui = LocalUI(store, tmp_path / "cache")
    try:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(ui.url)
        page.goto(f"http://127.0.0.1:{ui.port}/local/{PROJECT}/reports")
        page.locator('[data-testid="report-list"] a:text-is("Local notes")').click()
        _wait_ready(page, 2)
        assert page.locator(".report-text h1").inner_text() == "Notes"
        assert _best(page) == (run_dir.name, "0.4")
        page.wait_for_function("document.querySelector('.report-panel[data-block=\"1\"] .panel')?.dataset.drawn"
                               " === '1'")
        _shot(page, "local")
        context.close()
        assert not errors, errors
    finally:
        ui.stop()

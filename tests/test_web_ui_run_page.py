"""The run page in a real browser: provenance and alerts however many records the run wrote before them.

The page once read a run's first 5,000 records only. A resumed run writes its new attempt's provenance
after every record of the earlier attempts, and an alert comes whenever it is raised.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import test_web_ui
from test_web_ui import LocalUI, _env, screenshot

bundle, browser = test_web_ui.bundle, test_web_ui.browser  # the module's fixtures: the built UI and Chromium

pytestmark = pytest.mark.slow

ROWS = 6_000  # log records of the first attempt

_CHILD = """
import sys
import tracker_core as tracker
attempt, rows = sys.argv[2], int(sys.argv[3])
run = tracker.init(project="long-first", dir=sys.argv[1], id="busy", name="busy", resume="allow")
for step in range(rows):
    run.log({"loss": 1.0 / (step + 1)}, step=step)
if attempt == "attempt-2":
    run.alert(title="loss went flat", text="no progress in 1000 steps", level="WARN")
run.finish()
"""


@pytest.fixture(scope="module")
def busy_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalUI, int]]:
    base = tmp_path_factory.mktemp("run-page")
    store = base / "store"
    for attempt, rows in (("attempt-1", ROWS), ("attempt-2", 0)):
        done = subprocess.run([sys.executable, "-c", _CHILD, str(store), attempt, str(rows)], env=_env(),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    [events] = store.glob("long-first/*/events.jsonl")
    records = [orjson.loads(line) for line in events.read_bytes().splitlines()]
    late = [r["seq"] for r in records if r["type"] == "alert" or (r["type"] == "provenance"
                                                                    and "attempt-2" in r["data"]["command"])]
    ui = LocalUI(store, base / "cache")
    yield ui, min(late, default=0)
    ui.stop()


def test_provenance_and_alerts_written_after_5000_records_are_shown(browser: Any, busy_store: tuple[LocalUI, int],
                                                                    tmp_path: Path) -> None:
    ui, first_seq = busy_store
    assert first_seq > 5000, "the case needs provenance and the alert after the run's first 5,000 records"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(ui.url)
    page.goto(f"http://127.0.0.1:{ui.port}/local/long-first")
    page.wait_for_selector(".tr .name a")
    page.locator('.tr .name a:text-is("busy")').click()
    page.wait_for_selector('[data-testid="provenance-command"]', timeout=30_000)
    assert "attempt-2" in page.get_by_test_id("provenance-command").inner_text()  # the latest attempt's command
    page.wait_for_selector('[data-testid="alerts"]')
    alerts = page.get_by_test_id("alerts").inner_text()
    assert "loss went flat" in alerts and "no progress in 1000 steps" in alerts
    screenshot(page, tmp_path, "run-overview-provenance")
    context.close()
    assert not errors, errors


_HTML_FILE_CHILD = """
import sys
import tracker_core as tracker
run = tracker.init(project="files-inert", dir=sys.argv[1], name="writer")
with open("page.html", "w") as f:
    f.write("<html><title>page</title><script>document.title = 'pwned'; "
            "fetch('/api/v1/whoami').then(r => {document.title = 'read ' + r.status})</script></html>")
run.save("page.html", policy="now")
run.log({"loss": 1.0})
run.finish()
print(run.id)
"""


def test_a_run_file_that_is_a_web_page_opens_inert(browser: Any, tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = subprocess.run([sys.executable, "-c", _HTML_FILE_CHILD, str(store)], env=_env(), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[-1]
    ui = LocalUI(store, tmp_path / "cache")
    try:
        context = browser.new_context()
        page = context.new_page()
        page.goto(ui.url)  # signed in: the session cookie is set
        base = f"http://127.0.0.1:{ui.port}/api/v1/runs/local/files-inert/{run_id}/files"
        page.wait_for_function(f"fetch('{base}').then(r => r.json()).then(j => Object.keys(j.files).some("
                               "p => p.endsWith('page.html')))", timeout=30_000)
        listed = page.evaluate(f"fetch('{base}').then(r => r.json())")["files"]
        [path] = [p for p in listed if p.endswith("page.html")]
        answer = page.goto(f"{base}/{path}")
        assert answer is not None and "sandbox" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        page.wait_for_timeout(500)
        assert page.title() == "page"  # its script never ran, so it could not read the API as the user
        context.close()
    finally:
        ui.stop()

"""The run page in a real browser: provenance and alerts however many records the run wrote before them.

Provenance is collected on a background thread and recorded when collection ends, so a run that logs from
its first line writes thousands of log records first; the page once read only a run's first 5,000 records.
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

ROWS = 40_000  # log records written as fast as log() goes, straight after init()

_CHILD = """
import sys
import tracker_core as tracker
run = tracker.init(project="long-first", dir=sys.argv[1], name="busy")
for step in range(int(sys.argv[2])):
    run.log({"loss": 1.0 / (step + 1)}, step=step)
run.alert(title="loss went flat", text="no progress in 1000 steps", level="WARN")
run.finish()
"""


@pytest.fixture(scope="module")
def busy_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalUI, int]]:
    base = tmp_path_factory.mktemp("run-page")
    store = base / "store"
    done = subprocess.run([sys.executable, "-c", _CHILD, str(store), str(ROWS)], env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [events] = store.glob("long-first/*/events.jsonl")
    seqs = {record["type"]: record["seq"] for record in map(orjson.loads, events.read_bytes().splitlines())
            if record["type"] in ("provenance", "alert")}
    ui = LocalUI(store, base / "cache")
    yield ui, min(seqs.get("provenance", 0), seqs.get("alert", 0))
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
    assert "-c" in page.get_by_test_id("provenance-command").inner_text()  # the child's own command line
    page.wait_for_selector('[data-testid="alerts"]')
    alerts = page.get_by_test_id("alerts").inner_text()
    assert "loss went flat" in alerts and "no progress in 1000 steps" in alerts
    screenshot(page, tmp_path, "run-overview-provenance")
    context.close()
    assert not errors, errors

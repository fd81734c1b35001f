"""The artifacts page in a real browser (Debian's Chromium via Playwright) against a real team server: a
version logged by a real online run shows its files with the sizes that were logged, and its lineage."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from _server import Server, new_key
from test_web_ui import ARGS, CHROMIUM, bundle, playwright_api, screenshot

import tracker_core

pytestmark = pytest.mark.slow

__all__ = ["bundle"]  # the fixture that builds the UI bundle

FILES = {"model.bin": os.urandom(123_457), "tokenizer/vocab.txt": b"a\nb\nc\n", "config.json": b'{"depth": 4}'}


@pytest.fixture
def team(tmp_path: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Server, str]]:
    server = Server(tmp_path / "server").start()
    key = new_key(server.data, "research", "sf-box")
    monkeypatch.setenv("TRACKER_SERVER", server.url)
    monkeypatch.setenv("TRACKER_API_KEY", key)
    yield server, key
    server.kill()


def test_the_artifacts_page_lists_a_versions_files_with_their_logged_sizes(team: tuple[Server, str],
                                                                          tmp_path: Path) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    server, key = team
    source = tmp_path / "ckpt"
    for path, content in FILES.items():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_bytes(content)
    producer = tracker_core.init(project="p", entity="research", name="trainer")
    artifact = tracker_core.Artifact("checkpoint", type="model", metadata={"epoch": 7})
    artifact.add_dir(str(source))
    producer.log_artifact(artifact, aliases=["best"])
    producer.finish()
    consumer = tracker_core.init(project="p", entity="research", name="evaluator")
    consumer.use_artifact("checkpoint:best")
    consumer.finish()

    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(server.url + "/research/p/artifacts")
            page.wait_for_selector("form.signin")
            page.fill('input[name="key"]', key)
            page.click('button[type="submit"]')
            page.wait_for_selector('[data-testid="lineage"]')
            row = page.locator('tr[data-artifact="checkpoint:v0"]')
            assert "best" in row.inner_text() and "trainer" in row.inner_text() and "evaluator" in row.inner_text()
            assert sorted(page.locator("[data-node]").evaluate_all("ns => ns.map(n => n.dataset.node)")) == [
                "checkpoint:v0", "evaluator", "trainer"]
            page.locator('[data-node="checkpoint:v0"]').click()  # trace it and list its files
            page.wait_for_selector('[data-testid="artifact-files"]')
            shown = page.locator('[data-testid="artifact-files"] tbody tr').evaluate_all(
                "rows => rows.map(r => [r.dataset.path, Number(r.dataset.size), r.cells[1].textContent])")
            assert {path: size for path, size, _ in shown} == {path: len(data) for path, data in FILES.items()}
            assert dict((path, text) for path, _, text in shown)["model.bin"] == "123.5 KB"
            assert page.locator('[data-node="trainer"]').get_attribute("opacity") == "1"
            screenshot(page, tmp_path, "artifacts-server")
            page.locator('[data-node="evaluator"]').click()  # downstream: the consumer's run page
            page.wait_for_selector('[data-testid="config"]')
            assert not errors, errors
        finally:
            browser.close()

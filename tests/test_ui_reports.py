"""Reports on the local ``tracker ui``: a real UI process reads and writes the store's own ``.reports`` files, so
a report saved by a script shows in the UI with its panels over the store's runs, and one edited or created
in the UI is a file of the store that ``Report.load`` reads."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest
from _server import make_run, start_ui_needing_sign_in

from tracker_core.reports import LinePlot, LocalReports, Markdown, Report, RunSet

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_the_local_ui_serves_and_saves_the_stores_report_files(tmp_path: Path, store: Path) -> None:
    run_dir = make_run(project="p", steps=50)
    report = Report("p", "Local notes", [Markdown("# Notes\n"),
                                         LinePlot(metric="loss", runs=RunSet(ids=[run_dir.name]))]).save()
    proc, url, key, _ = start_ui_needing_sign_in(store, tmp_path)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as ui:
            listed = ui.get("/api/v1/reports", params={"project": "local/p"}).json()["reports"]
            assert [(r["id"], r["project"], r["title"]) for r in listed] == [(report.id, "local/p", "Local notes")]
            data = ui.get(f"/api/v1/reports/{report.id}/blocks/1/data").json()
            assert data["runs"][0]["id"] == run_dir.name and len(data["series"][run_dir.name]["x"]) == 50
            text = ui.get(f"/api/v1/reports/{report.id}").json()["markdown"]
            assert text == report.markdown
            edited = text.replace("# Notes", "# Notes, edited in the browser")
            assert ui.put(f"/api/v1/reports/{report.id}", json={"base_revision": 1, "markdown": edited}
                          ).json() == {"revision": 2}
            stale = ui.put(f"/api/v1/reports/{report.id}", json={"base_revision": 1, "markdown": text})
            assert stale.status_code == 409 and stale.json()["details"]["conflict_revision"] == 3
            created = ui.post("/api/v1/reports", json={"project": "local/p", "title": "Made in the UI",
                                                       "blocks": [{"kind": "markdown", "text": "Hi\n"}]})
            assert created.status_code == 201, created.text
            token = ui.post(f"/api/v1/reports/{report.id}/shares").json()["token"]
            pinned = ui.post(f"/api/v1/reports/{report.id}/blocks/1/pin")
            assert pinned.json() == {"revision": 4}
        with httpx.Client(base_url=url) as anonymous:
            assert anonymous.get(f"/api/v1/shared/{token}").json()["title"] == "Local notes"
            assert anonymous.get(f"/api/v1/shared/{token}/blocks/1/data").json()["pinned"] is True
            assert anonymous.get(f"/api/v1/reports/{report.id}").status_code == 401
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    loaded = Report.load(str(report.id))
    assert loaded.revision == 4 and loaded.blocks[0] == Markdown("# Notes, edited in the browser\n")
    assert loaded.panels[0].pinned is not None and loaded.panels[0].pinned["data"]["runs"][0]["id"] == run_dir.name
    made = LocalReports(str(store)).get(created.json()["id"])
    assert made["project"] == "p" and made["markdown"] == "---\ntitle: Made in the UI\nproject: p\n---\nHi\n"
    assert (store / ".reports" / str(report.id) / "report.md").read_text() == loaded.markdown

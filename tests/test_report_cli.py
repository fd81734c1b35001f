"""``tracker report`` and ``tracker sync`` against a real team server (and the local store): push then pull
round-trips a file byte for byte, a stale push is refused with both texts kept, a model card is drafted from a
real artifact lineage, ``Report.save()`` goes to the configured server, and local reports sync up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _server import Server, new_key

import tracker_core
from tracker_core.reports import LinePlot, Markdown, Report, RunSet

pytestmark = pytest.mark.slow

FILE = """---
title: Paper appendix   # kept as written
project: research/p
---
# Comparison

<script>alert("x")</script> and $\\int_0^1 f$

```panel
type: line
metric: loss
x: _step
runs:
  order: -summary.acc
  limit: 3
```
No final newline"""


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracker_core.cli", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def online(server: Server, key: str) -> dict[str, str]:
    return {"TRACKER_SERVER": server.url, "TRACKER_API_KEY": key, "TRACKER_MODE": "online"}


def test_push_then_pull_round_trips_the_file_and_a_stale_push_keeps_both_texts(
        server: Server, tmp_path: Path) -> None:
    key = new_key(server.data, "research", "alice", db=server.db)
    env = online(server, key)
    path = tmp_path / "appendix.md"
    path.write_bytes(FILE.encode())
    pushed = cli("report", "push", str(path), env=env)
    assert pushed.returncode == 0, pushed.stderr
    report_id = pushed.stdout.strip()
    assert f"{server.url}/reports/{report_id}" in pushed.stderr
    pulled = cli("report", "pull", report_id, "-o", str(tmp_path / "back.md"), env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert (tmp_path / "back.md").read_bytes() == FILE.encode()
    assert cli("report", "pull", report_id, env=env).stdout == FILE
    assert cli("report", "push", str(tmp_path / "back.md"), "--id", report_id, env=env).stderr.count("unchanged") == 1

    edited = FILE.replace("# Comparison", "# Comparison, edited")
    path.write_text(edited)
    assert cli("report", "push", str(path), "--id", report_id, "--base-revision", "1", env=env).returncode == 0
    theirs = FILE.replace("# Comparison", "# Someone else's")
    (tmp_path / "theirs.md").write_text(theirs)
    stale = cli("report", "push", str(tmp_path / "theirs.md"), "--id", report_id, "--base-revision", "1", env=env)
    assert stale.returncode == 2 and "kept as conflict revision 3" in stale.stderr, stale.stderr
    assert cli("report", "pull", report_id, env=env).stdout == edited
    with server.client(key) as client:
        assert client.get(f"/api/v1/reports/{report_id}/revisions/3").json()["markdown"] == theirs
        revisions = client.get(f"/api/v1/reports/{report_id}/revisions").json()["revisions"]
        assert [r["conflict"] for r in revisions] == [False, False, True]
    listed = cli("report", "list", "-p", "p", "--json", env=env)
    assert listed.returncode == 0 and report_id in listed.stdout
    bad = tmp_path / "bad.md"
    bad.write_text("---\ntitle: t\nproject: p\n---\n\n```panel\ntype: line\nruns: {}\n```\n")
    refused = cli("report", "push", str(bad), env=env)
    assert refused.returncode == 2 and "line 6: a line panel needs `metric`" in refused.stderr


def test_report_objects_save_to_the_configured_server(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key(server.data, "research", "alice", db=server.db)
    for name, value in online(server, key).items():
        monkeypatch.setenv(name, value)
    report = Report(project="p", title="From Python", blocks=[
        Markdown("# Hello\n"), LinePlot(metric="loss", runs=RunSet(filters="config.lr<1"))]).save()
    assert report.project == "research/p" and report.url == f"{server.url}/reports/{report.id}"
    loaded = Report.load(str(report.id))
    assert loaded.blocks == report.blocks and loaded.revision == 1 and loaded.markdown == report.markdown
    loaded.blocks.append(Markdown("More.\n"))
    assert loaded.save().revision == 2
    from tracker_core.reports._remote import RemoteReports
    from tracker_core.sync import ServerClient

    remote = RemoteReports(ServerClient(server.url, key))
    assert remote.block_data(str(report.id), 1) == {"type": "line", "pinned": False, "runs": [],
                                                    "message": "project research/p has no runs"}
    remote.client.close()
    assert tracker_core.reports.Report.load(str(report.id)).blocks[-1] == Markdown("More.\n")


def _lineage(folder: Path) -> tuple[str, str]:
    """A data artifact made by a prep run, used by a training run that logs a model: (train run id, model ref)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.csv").write_text("x,y\n1,2\n")
    (folder / "model.bin").write_bytes(b"weights" * 100)
    prep = tracker_core.init(project="p", entity="research", job_type="prep")
    data = tracker_core.Artifact("corpus", type="dataset")
    data.add_file(str(folder / "train.csv"))
    prep.log_artifact(data)
    prep.finish()
    train = tracker_core.init(project="p", entity="research", config={"lr": 0.003, "optimizer": {"name": "adam"}})
    train.use_artifact("corpus:v0")
    for step in range(5):
        train.log({"loss": 1.0 / (step + 1)}, step=step)
    train.summary["eval/accuracy"] = 0.93
    model = tracker_core.Artifact("classifier", type="model", description="A small classifier | test")
    model.add_file(str(folder / "model.bin"))
    train.log_artifact(model, aliases=["candidate"])
    train.finish()
    return str(train.id), "classifier:v0"


def _check_card(text: str, run_id: str) -> None:
    assert text.startswith("---\ntitle: 'Model card: classifier:v0'\n") or text.startswith(
        "---\ntitle: 'Model card: classifier:v0'")
    for words in (f"Made by run `{run_id}`", "| `lr` | 0.003 |", "| `optimizer.name` | adam |",
                  "| `eval/accuracy` | 0.93 |", "`corpus:v0` (dataset", "\nA small classifier | test\n",
                  "## Intended use\n\n\n\n## Limitations\n", "type: lineage\n", "key: classifier:v0\n",
                  f"ids: [{run_id}]", "columns: [summary.eval/accuracy, summary.loss]"):
        assert words in text, words


def test_a_model_card_is_drafted_from_the_artifact_lineage_on_the_server(
        server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key(server.data, "research", "alice", db=server.db)
    env = online(server, key)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    run_id, ref = _lineage(tmp_path / "files")
    drafted = cli("report", "model-card", ref, "-p", "research/p", "-o", str(tmp_path / "card.md"), env=env)
    assert drafted.returncode == 0, drafted.stderr
    card_id = drafted.stdout.strip()
    text = cli("report", "pull", card_id, env=env).stdout
    assert text == (tmp_path / "card.md").read_text()
    _check_card(text, run_id)
    with server.client(key) as client:
        blocks = client.get(f"/api/v1/reports/{card_id}").json()["blocks"]
        kinds = [(i, b["spec"]["type"]) for i, b in enumerate(blocks) if b["kind"] == "panel"]
        data: dict[str, Any] = {kind: client.get(f"/api/v1/reports/{card_id}/blocks/{i}/data").json()
                                for i, kind in kinds}
    assert data["table"]["runs"][0]["summary"] == {"eval/accuracy": 0.93, "loss": 0.2}
    refs = {node.get("ref") for node in data["lineage"]["lineage"]["nodes"]}
    assert {"classifier:v0", "corpus:v0"} <= refs


def test_a_model_card_from_the_local_store(tmp_path: Path) -> None:
    run_id, ref = _lineage(tmp_path / "files")
    drafted = cli("report", "model-card", ref)
    assert drafted.returncode == 0, drafted.stderr
    text = cli("report", "pull", drafted.stdout.strip()).stdout
    _check_card(text.replace("project: p\n", ""), run_id)


def test_tracker_sync_pushes_local_reports_and_never_overwrites_a_server_edit(
        server: Server, store: Path, tmp_path: Path) -> None:
    key = new_key(server.data, "research", "alice", db=server.db)
    report = Report("p", "Written offline", [Markdown("# Offline\n")]).save()  # no server configured: the store
    assert report.url is not None and report.url.startswith("file://")
    env = {"TRACKER_SERVER": server.url, "TRACKER_API_KEY": key}
    first = cli("sync", str(store), env=env)
    assert first.returncode == 0 and f"report {report.id}: created on the server (research/p)" in first.stdout
    with server.client(key) as client:
        there = client.get(f"/api/v1/reports/{report.id}").json()
    assert there["markdown"] == report.markdown and there["project"] == "research/p"
    assert "report" not in cli("sync", str(store), env=env).stdout.replace("reports", "")  # nothing new
    report.blocks.append(Markdown("Second thoughts.\n"))
    report.save()
    second = cli("sync", str(store), env=env)
    assert second.returncode == 0 and "sent as server revision 2" in second.stdout, second.stdout
    with server.client(key) as client:
        assert client.get(f"/api/v1/reports/{report.id}").json()["markdown"] == report.markdown
        edited = client.put(f"/api/v1/reports/{report.id}", json={"base_revision": 2, "title": "Edited online"})
        assert edited.json() == {"revision": 3}
    report.blocks.append(Markdown("Third.\n"))
    report.save()
    third = cli("sync", str(store), env=env)
    assert third.returncode == 1 and "kept there as conflict revision 4" in third.stdout, third.stdout
    with server.client(key) as client:
        assert client.get(f"/api/v1/reports/{report.id}").json()["title"] == "Edited online"
        assert client.get(f"/api/v1/reports/{report.id}/revisions/4").json()["markdown"] == report.markdown

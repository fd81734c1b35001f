"""`tracker import wandb ENTITY/PROJECT --api`: the real wandb client (``wandb.Api`` and its wandb-core process)
against a local emulation of W&B's API (``_wandb_api_server``) serving real offline runs that wandb wrote here.
No W&B server is reachable from this machine: what is proved is that the import reads what ``wandb.Api``
returns for a synced run, the same as the import of the run's folder, and fails cleanly."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

pytest.importorskip("wandb")

from _wandb_api_server import WandbApiEmulator, served_run
from _wandb_runs import FAILED_RUN, LONG_RUN, MAIN_RUN, make_runs, wandb_env

from tracker_core._encoding import MediaRef
from tracker_core.api import Api

KEY = "local0emulator0key0" + "7" * 21  # 40 characters, as W&B's keys
RUN_IDS = ["fail0001", "long0001", "main0001"]
_END = ("_runtime", "_timestamp")  # of the run's end: W&B's API gives it to the second (heartbeatAt)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real W&B offline runs: a full one (media, define_metric, NaN and ±Inf), a failing one, and one of
    3,000 rows (three pages of wandb's history scan) with a 100 kB config value."""
    folder = tmp_path_factory.mktemp("wandb_api_runs")
    make_runs(folder, MAIN_RUN, FAILED_RUN, LONG_RUN)
    return folder


@pytest.fixture
def server(made: Path) -> Any:
    folders = sorted(str(p) for p in (made / "wandb").glob("offline-run-*"))
    with WandbApiEmulator("team", "mig", [served_run(f) for f in folders], KEY) as emulator:
        yield emulator


def _env(tmp: Path, key: str | None) -> dict[str, str]:
    """wandb's settings kept under ``tmp`` (no netrc or settings of this machine's user)."""
    env = wandb_env(tmp / "client")
    env.pop("WANDB_MODE")
    env.update(HOME=str(tmp / "home"), NETRC=str(tmp / "home" / ".netrc"))
    if key is not None:
        env["WANDB_API_KEY"] = key
    return env


def _cli(root: Path, tmp: Path, *args: str, key: str | None = KEY, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracker_core.cli", "--dir", str(root), "import", "wandb", *args],
                          capture_output=True, text=True, timeout=300, check=False, env={**_env(tmp, key), **env})


def _value(value: Any) -> Any:
    """A value to compare: a medium by its kind, fields and bytes (its path names the store)."""
    if isinstance(value, MediaRef):
        fields = {k: v for k, v in value.fields.items() if k != "path"}
        return ("media", value.kind, orjson.dumps(fields, option=orjson.OPT_SORT_KEYS),
                value.read_bytes() if value.path else None)
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_value(v) for v in value]
    return value


def _run_view(run: Any) -> dict[str, Any]:
    return {"name": run.name, "tags": run.tags, "notes": run.notes, "group": run.group, "job_type": run.job_type,
            "state": run.state, "config": run.config, "summary": _value(dict(run.summary)),
            "summary_metrics": _value({k: v for k, v in run.summary_metrics.items() if k not in _END}),
            "history": [_value(row) for row in run.history()],
            "by_epoch": run.history(keys=["val/acc"], x_axis="epoch") if run.id == "main0001" else None,
            "system": len(run.system_metrics()),
            "files": sorted(str(p.relative_to(run.dir)) for p in (Path(run.dir) / "files").rglob("*")
                            if p.is_file() and p.name != "wandb-metadata.json"),  # only a synced run has one
            "console": _text(Path(run.dir) / "files" / "output.log")}


def _text(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def test_the_api_import_gives_what_the_import_of_the_folder_gives(made: Path, server: WandbApiEmulator,
                                                                    tmp_path: Path) -> None:
    from_files, from_api = tmp_path / "files-store", tmp_path / "api-store"
    assert _cli(from_files, tmp_path, str(made / "wandb")).returncode == 0
    result = _cli(from_api, tmp_path, "team/mig", "--api", "--base-url", server.url, "--json")
    assert result.returncode == 0, result.stderr
    report = orjson.loads(result.stdout)
    assert report["moved"]["runs"] == 3 and report["moved"]["media"] >= 6 and report["errors"] == []
    assert {"kind": "exit codes", "reason": "W&B's API does not give a run's exit code", "count": 1} in \
        report["not_represented"]
    assert {"kind": "artifacts", "reason": "not fetched through W&B's API: import the run's folder, or fetch them "
            "with `wandb artifact get`", "count": 1} in report["not_represented"]  # the weights, not the tables
    assert "[3/3] W&B run" in result.stderr  # the progress lines

    files_api, api_api = Api(str(from_files)), Api(str(from_api))
    assert sorted(r.id for r in api_api.runs("mig")) == sorted(r.id for r in files_api.runs("mig")) == RUN_IDS
    for run_id in RUN_IDS:
        expected, got = _run_view(files_api.run(f"mig/{run_id}")), _run_view(api_api.run(f"mig/{run_id}"))
        assert got == expected, run_id
        api_run, files_run = api_api.run(f"mig/{run_id}"), files_api.run(f"mig/{run_id}")
        assert api_run.created_at and files_run.created_at
        assert abs(api_run.created_at.timestamp() - files_run.created_at.timestamp()) < 1.0
        for key in _END:
            assert abs(api_run.summary_metrics[key] - files_run.summary_metrics[key]) < 1.0
    long = api_api.run("mig/long0001")
    assert [r["a"] for r in long.history()] == [step * 0.5 for step in range(3000)]
    assert server.requests.count("HistoryPage") >= 3
    main = api_api.run("mig/main0001")
    weird = [math.nan, math.inf, -math.inf, 2.5]  # what MAIN_RUN logs at each step
    assert [_value(r["weird"]) for r in main.history()[:9]] == [_value(weird[step % 4])
                                                               for step in [0, 1, 2, 5, 9, 10, 50, 51, 400]]
    assert (main.state, main.exit_code) == ("finished", 0) and api_api.run("mig/fail0001").state == "failed"
    provenance = main.provenance or {}  # from the run's wandb-metadata.json
    assert provenance["python"]["version"].startswith("CPython 3.") and provenance["cwd"] == str(made)
    assert provenance["host"]["hostname"] == socket.gethostname()
    meta = orjson.loads((from_api / "mig" / "main0001" / "run.json").read_bytes())
    assert [(a["name"], a["type"], a["aliases"]) for a in meta["wandb"]["artifacts"]] == [
        ("weights:v0", "model", ["best"])]

    # every row came from wandb's scan (wandb-core's HistoryPage), never from the sampled history
    assert "HistoryPage" in server.requests and "events" in server.requests
    assert "sampled history" not in server.requests and server.unknown == []


def test_importing_again_updates_the_same_runs_and_changes_nothing(made: Path, server: WandbApiEmulator,
                                                                  tmp_path: Path) -> None:
    root = tmp_path / "store"
    assert _cli(root, tmp_path, str(made / "wandb")).returncode == 0  # first from the folders
    first = _cli(root, tmp_path, "team/mig", "--api", "--base-url", server.url, "--json")
    assert first.returncode == 0 and orjson.loads(first.stdout)["moved"]["runs"] == 3
    assert sorted(r.id for r in Api(str(root)).runs()) == RUN_IDS  # the same runs, not two more
    logs = {p: p.read_bytes() for p in root.glob("mig/*/events.jsonl")}
    metas = {p: p.read_bytes() for p in root.glob("mig/*/run.json")}
    again = _cli(root, tmp_path, "mig", "--api", "--json", WANDB_BASE_URL=server.url)  # the key's own entity
    assert again.returncode == 0 and orjson.loads(again.stdout)["moved"]["runs"] == 0
    assert orjson.loads(again.stdout)["moved"]["runs unchanged"] == 3
    assert {p: p.read_bytes() for p in root.glob("mig/*/events.jsonl")} == logs
    assert {p: p.read_bytes() for p in root.glob("mig/*/run.json")} == metas

    # and from the folders again: the same runs, rebuilt from the folders
    assert _cli(root, tmp_path, str(made / "wandb")).returncode == 0
    assert sorted(r.id for r in Api(str(root)).runs()) == RUN_IDS
    assert "imported_from" in orjson.loads((root / "mig" / "main0001" / "run.json").read_bytes())

    # the key went to wandb only: no file of the store holds it (nor wandb's own logs, under tmp_path/client)
    assert list((tmp_path / "client").rglob("core-debug-*.log"))
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("tracker: error")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_errors_are_one_clear_line_and_nothing_is_imported(server: WandbApiEmulator, tmp_path: Path) -> None:
    root = tmp_path / "store"
    closed = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    unreachable = _cli(root, tmp_path, "team/mig", "--api", "--base-url", closed, "--timeout", "3")
    assert unreachable.returncode == 2 and f"{closed} cannot be reached" in _one_error(unreachable)
    bad_key = _cli(root, tmp_path, "team/mig", "--api", "--base-url", server.url, key="x" * 40)
    assert bad_key.returncode == 2 and "not logged in" in _one_error(bad_key)
    no_key = _cli(root, tmp_path, "team/mig", "--api", "--base-url", server.url, key=None)
    assert no_key.returncode == 2 and "API key" in _one_error(no_key)
    unknown = _cli(root, tmp_path, "team/nope", "--api", "--base-url", server.url)
    assert unknown.returncode == 2 and "'team/nope'" in _one_error(unknown)
    assert not root.exists() or not [p for p in root.rglob("*") if p.is_file() and "mig" in p.parts]
    for result in (unreachable, bad_key, no_key, unknown):
        assert "x" * 40 not in result.stderr + result.stdout and KEY not in result.stderr + result.stdout
    assert os.environ.get("WANDB_API_KEY") != KEY


def test_a_run_the_server_fails_to_give_is_not_half_imported(server: WandbApiEmulator, tmp_path: Path) -> None:
    root = tmp_path / "store"
    server.broken.add("main0001")
    result = _cli(root, tmp_path, "team/mig", "--api", "--base-url", server.url, "--json")
    assert result.stdout, result.stderr
    report = orjson.loads(result.stdout)
    assert result.returncode == 3 and report["moved"]["runs"] == 2
    (error,) = report["errors"]
    assert error.startswith("run team/mig/main0001: not imported:") and "unavailable" in error
    assert sorted(r.id for r in Api(str(root)).runs("mig")) == ["fail0001", "long0001"]
    assert not (root / "mig" / "main0001").exists()  # neither its media nor its files
    server.broken.clear()
    again = _cli(root, tmp_path, "team/mig", "--api", "--base-url", server.url, "--json")
    assert again.returncode == 0 and orjson.loads(again.stdout)["moved"]["runs"] == 1
    assert sorted(r.id for r in Api(str(root)).runs("mig")) == RUN_IDS

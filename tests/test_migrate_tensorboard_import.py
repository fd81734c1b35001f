"""``tracker import tensorboard`` on real event files written by ``torch.utils.tensorboard.SummaryWriter``,
compared with what TensorBoard's own ``EventAccumulator`` reads from them."""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboard", reason="needs the tensorboard extra: pip install 'tracker[tensorboard]'")
torch_tb = pytest.importorskip("torch.utils.tensorboard")

from PIL import Image as PILImage  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from tracker_core import Api  # noqa: E402
from tracker_core._encoding import decode_row  # noqa: E402
from tracker_core.migrate import import_tensorboard  # noqa: E402
from tracker_core.store._log import parse_records, read_log  # noqa: E402


def _logged(run_dir: str, key: str) -> list[tuple[int, float, str]]:
    """(step, time, repr of the value) of every point of ``key`` in the run's log, in log order."""
    return [(r["step"], r["t"], repr(decode_row(r["data"])[key]))
            for r in parse_records(read_log(os.path.join(run_dir, "events.jsonl")))
            if r.get("type") == "log" and key in r["data"]]


def _write_logs(logs: Path) -> np.ndarray:
    pixels = np.random.default_rng(0).random((3, 8, 8))
    for version in range(2):
        writer = torch_tb.SummaryWriter(str(logs / f"version_{version}"))
        for step in (0, 1, 5, 9, 40):
            writer.add_scalar("train/loss", 1.0 / (step + 1) + version, step)
            if step % 2:
                writer.add_scalar("val/acc", step / 40, step)
        writer.add_scalar("odd", math.nan, 41)
        writer.add_histogram("weights", np.random.default_rng(version).normal(size=1000), 3)
        writer.add_image("sample", pixels, 4)
        writer.add_text("note", f"hello from version {version}", 2)
        writer.close()
    writer = torch_tb.SummaryWriter(str(logs / "version_0"))
    writer.add_hparams({"lr": 0.1, "optimizer": "adam", "batch_size": 32}, {"hp/metric": 0.5}, run_name="hparams")
    writer.close()
    return pixels


def test_scalars_histograms_images_text_and_hparams(tmp_path: Path) -> None:
    logs = tmp_path / "lightning_logs"
    pixels = _write_logs(logs)
    root = str(tmp_path / "runs")
    fidelity = import_tensorboard(str(logs), root, progress=False)
    assert not fidelity.errors
    runs = {run.name: run for run in Api(root).runs("lightning_logs")}
    assert set(runs) == {"version_0", "version_1", "version_0/hparams"}
    for name in ("version_0", "version_1"):
        run = runs[name]
        folder = logs / name
        accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
        accumulator.Reload()
        history = run.history()
        for tag in ("train/loss", "val/acc", "odd"):
            expected = [(e.step, e.wall_time, repr(e.value)) for e in accumulator.Scalars(tag)]
            assert _logged(run.dir, tag) == expected, tag  # step, wall time and value of every point
            assert [row["_step"] for row in history if tag in row] == [e.step for e in accumulator.Scalars(tag)]
        [histogram] = [row["weights"] for row in history if "weights" in row]
        assert sum(histogram.fields["values"]) == 1000 and histogram.fields["bins"][0] == pytest.approx(
            float(np.random.default_rng(int(name[-1])).normal(size=1000).min()), abs=1e-6)
        [image] = [row["sample"] for row in history if "sample" in row]
        with PILImage.open(io.BytesIO(image.read_bytes())) as picture:
            assert np.array_equal(np.asarray(picture.convert("RGB")),
                                  (pixels.transpose(1, 2, 0) * 255).clip(0, 255).astype(np.uint8))
        [text] = [row["note/text_summary"] for row in history if "note/text_summary" in row]
        assert text == f"hello from version {name[-1]}"
        assert run.status == "finished"
        assert run.created_at is not None and run.created_at.timestamp() <= history[0]["_timestamp"]
    assert runs["version_0/hparams"].config == {"lr": 0.1, "optimizer": "adam", "batch_size": 32}
    assert runs["version_0/hparams"].summary["hp/metric"] == 0.5
    assert fidelity.moved["media"] == 4 and fidelity.moved["config values"] == 3


def test_importing_again_changes_nothing_and_a_torn_file_is_named(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    _write_logs(logs)
    root = str(tmp_path / "runs")
    import_tensorboard(str(logs), root, project="p", progress=False)
    files = sorted(Path(root, "p").glob("*/events.jsonl"))
    before = [(f.read_bytes(), f.stat().st_mtime_ns) for f in files]
    outcomes: dict[str, str] = {}
    import_tensorboard(str(logs), root, project="p", progress=False, on_run=outcomes.__setitem__)
    assert set(outcomes.values()) == {"unchanged"}
    assert [(f.read_bytes(), f.stat().st_mtime_ns) for f in sorted(Path(root, "p").glob("*/events.jsonl"))] == before

    [event_file] = [p for p in (logs / "version_1").iterdir() if "tfevents" in p.name]
    data = event_file.read_bytes()
    event_file.write_bytes(data[: len(data) - 7])  # the writer died inside the last record
    fidelity = import_tensorboard(str(logs), str(tmp_path / "runs2"), project="p", progress=False)
    assert len(Api(str(tmp_path / "runs2")).runs("p")) == 3
    torn = next(run for run in Api(str(tmp_path / "runs2")).runs("p") if run.name == "version_1")
    assert [row["_step"] for row in torn.history() if "train/loss" in row] == [0, 1, 5, 9, 40]
    [error] = fidelity.errors
    assert error.startswith(f"{event_file}: a torn or corrupt record at byte ")
    assert error.endswith(f" of {len(data) - 7:,}; the events before it were imported")


def test_the_cli_and_a_folder_without_event_files(tmp_path: Path) -> None:
    logs = tmp_path / "lightning_logs"
    _write_logs(logs)
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(Path(__file__).resolve().parent.parent))}
    command = [sys.executable, "-m", "tracker_core.cli", "--dir", str(tmp_path / "runs"), "import", "tensorboard"]
    done = subprocess.run([*command, str(logs)], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "Fidelity: tensorboard" in done.stdout and "3/3 runs" in done.stderr
    (tmp_path / "empty").mkdir()
    done = subprocess.run([*command, str(tmp_path / "empty")], capture_output=True, text=True, timeout=120, env=env,
                          check=False)
    assert done.returncode == 2 and "no TensorBoard event files" in done.stderr

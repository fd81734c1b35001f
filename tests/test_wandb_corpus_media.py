"""The media scripts of the W&B-style corpus (tests/wandb_corpus/media_*.py), run with only their import
changed, each in a real subprocess; the store must then hold what W&B's documentation says wandb stores
for them: an image file's own bytes, masks as PNGs of class ids with their class labels, boxes as JSON
with positions, class ids, scores and captions, class sets, lists of captioned images, tables of
images, and pyplot charts as PNG images."""

from __future__ import annotations

import io
import os
from pathlib import Path

import orjson
import pytest
from test_wandb_corpus import only, run_corpus

np = pytest.importorskip("numpy")
PILImage = pytest.importorskip("PIL.Image")
pytest.importorskip("matplotlib")

SEGMENTATION_LABELS = {"0": "background", "1": "road", "2": "car", "3": "person"}
DETECTION_LABELS = {"1": "car", "2": "person", "3": "traffic light"}


def _pixels(ref) -> object:
    return np.asarray(PILImage.open(io.BytesIO(ref.read_bytes())))


def _media_files(run_dir: str) -> list[str]:
    return sorted(name.split(".", 1)[1] for name in os.listdir(os.path.join(run_dir, "media")))


def _ground_truth() -> object:  # the script's ground_truth(32, 48)
    mask = np.zeros((32, 48), dtype=np.uint8)
    mask[16:, :] = 1
    mask[4:12, 8:20] = 2
    mask[20:30, 30:40] = 3
    return mask


def test_media_segmentation(tmp_path: Path) -> None:
    run_corpus("media_segmentation", tmp_path)
    run = only("corpus-segmentation")
    assert run.status == "finished" and run.config == {"model": "unet", "num_classes": 4}
    history = run.history()
    assert [row["_step"] for row in history] == [0, 1, 2, 3]
    truth = _ground_truth()
    for step, row in enumerate(history[:3]):
        image = row["segmentation"]
        assert image.kind == "image" and image.path.endswith(".jpg")
        assert image.read_bytes() == (tmp_path / f"frame_{step}.jpg").read_bytes()  # the JPEG as written
        assert (image.fields["width"], image.fields["height"], image.fields["caption"]) == (48, 32, f"frame {step}")
        prediction = np.roll(truth, shift=step, axis=1)
        assert set(image.masks) == {"ground_truth", "predictions"}
        assert np.array_equal(_pixels(image.masks["ground_truth"]), truth)
        assert np.array_equal(_pixels(image.masks["predictions"]), prediction)
        assert all(mask.fields["class_labels"] == SEGMENTATION_LABELS for mask in image.masks.values())
        assert image.fields["classes"] == [{"id": int(k), "name": v} for k, v in SEGMENTATION_LABELS.items()]
        assert "left_out" not in image.fields
        assert row["val/pixel_accuracy"] == float((prediction == truth).mean())
    table = history[3]["predictions_table"]
    assert table.columns == ["id", "frame", "pixel_accuracy"]
    cells = table.rows()
    assert [cell[0] for cell in cells] == [0, 1, 2] and cells[0][2] == 1.0
    for step, (_, frame, _) in enumerate(cells):
        logged = history[step]["segmentation"]
        assert frame.fields == {**logged.fields, "file": os.path.basename(logged.path)}  # the same files
        assert np.array_equal(_pixels(frame.masks["predictions"]), np.roll(truth, shift=step, axis=1))
    # stored once by content: 3 frames, the truth (= step 0's prediction) and 2 other predictions, the table
    assert _media_files(run.dir) == ["jpg"] * 3 + ["json"] + ["mask.png"] * 3


def test_media_detection(tmp_path: Path) -> None:
    run_corpus("media_detection", tmp_path)
    run = only("corpus-detection")
    history = run.history()
    assert [row["_step"] for row in history] == [0, 1, 2, 3]
    for step, row in enumerate(history[:2]):
        image = row["detections"]
        assert _pixels(image).shape == (64, 96, 3) and int(_pixels(image).max()) == 40 * (step + 1)
        predictions = image.boxes["predictions"]
        assert predictions.path.endswith(".boxes2D.json") and predictions.fields["count"] == 2
        assert orjson.loads(predictions.read_bytes()) == {"class_labels": DETECTION_LABELS, "box_data": [
            {"position": {"minX": 0.1, "maxX": 0.4, "minY": 0.2, "maxY": 0.5}, "class_id": 1,
             "box_caption": f"car {0.9 - step / 10:.2f}", "scores": {"confidence": 0.9 - step / 10, "iou": 0.7}},
            {"position": {"middle": [60, 30], "width": 20, "height": 40}, "domain": "pixel", "class_id": 2,
             "box_caption": "person", "scores": {"confidence": 0.8}}]}
        truth = image.boxes["ground_truth"]  # BoundingBoxes2D; its box without maxY is left out, the rest kept
        assert orjson.loads(truth.read_bytes())["box_data"] == [
            {"position": {"minX": 0.12, "maxX": 0.38, "minY": 0.22, "maxY": 0.52}, "class_id": 1}]
        assert truth.fields["class_labels"] == DETECTION_LABELS and truth.fields["count"] == 1
        assert image.fields["left_out"] == ["boxes 'ground_truth' box 1"]
        assert image.fields["classes"] == [{"id": int(k), "name": v} for k, v in DETECTION_LABELS.items()]
    examples = history[2]["examples"]  # the diverged (NaN) sample costs itself only
    assert examples.kind == "list" and examples.fields["skipped"] == [2]
    assert [item.fields["caption"] for item in examples.items] == ["Pred: 1 Truth: 1", "Pred: 2 Truth: 2",
                                                                   "Pred: 1 Truth: 1"]
    assert [int(_pixels(item)[0, 0]) for item in examples.items] == [0, 63, 255]  # wandb's x * 255 for [0, 1]
    table = history[3]["detections_table"]
    assert table.columns == ["image", "num_boxes"]
    cells = table.rows()
    assert [cell[1] for cell in cells] == [2, 2]
    assert [cell[0].boxes["predictions"].read_bytes() for cell in cells] == \
        [row["detections"].boxes["predictions"].read_bytes() for row in history[:2]]


def test_media_charts(tmp_path: Path) -> None:
    run_corpus("media_charts", tmp_path)
    run = only("corpus-charts")
    history = run.history()
    chart = history[0]["chart"]  # pyplot's current figure, as wandb stores it without plotly: a PNG image
    assert chart.kind == "image" and chart.path.endswith(".png") and chart.read_bytes()[:4] == b"\x89PNG"
    assert (chart.fields["width"], chart.fields["height"]) == (200, 150) and _pixels(chart).shape == (150, 200, 4)
    assert len(np.unique(_pixels(chart).reshape(-1, 4), axis=0)) > 2  # a drawn plot, not a blank canvas
    confusion = history[1]["confusion_matrix"]
    assert (confusion.fields["width"], confusion.fields["height"], confusion.fields["caption"]) == (120, 120, "epoch 9")
    inputs = history[2]["inputs"].items
    assert [item.fields["caption"] for item in inputs] == ["gradient", "normalised", "rgb"]
    gradient = np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (16, 1))
    assert np.array_equal(_pixels(inputs[0]), gradient) and inputs[0].fields["channels"] == 1
    normalised = np.linspace(-1.0, 1.0, 3 * 8 * 8, dtype=np.float32).reshape(3, 8, 8)
    expected = (255 * 0.5 * (normalised + 1)).astype(np.uint8).transpose(1, 2, 0)  # wandb's rule for [-1, 1], CHW
    assert np.array_equal(_pixels(inputs[1]), expected)
    assert np.array_equal(_pixels(inputs[2]), np.stack([gradient] * 3, axis=-1))

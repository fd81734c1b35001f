"""Images as W&B scripts log them: files, any dtype, W&B's rescaling, masks, boxes, pyplot; read back through Api()."""

from __future__ import annotations

import io
import os

import orjson
import pytest

import tracker_core
from tracker_core import TrackerWarning

np = pytest.importorskip("numpy")
PILImage = pytest.importorskip("PIL.Image")


def _log_and_read(**row: object) -> dict:
    run = tracker_core.init(project="wb-images")
    run.log(row)
    run.finish()
    return tracker_core.Api().run(run.path).history()[0]


def _pixels(ref) -> object:
    return np.asarray(PILImage.open(io.BytesIO(ref.read_bytes())))


def test_image_files_are_stored_png_and_jpeg_bytes_as_given_other_formats_as_png(tmp_path) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, size=(9, 7, 3), dtype=np.uint8)
    source = PILImage.fromarray(pixels)
    paths = {fmt: tmp_path / f"x.{fmt}" for fmt in ("png", "jpg", "bmp", "tiff")}
    for path in paths.values():
        source.save(path)
    row = _log_and_read(**{fmt: tracker_core.Image(str(path) if fmt != "tiff" else path, caption=fmt)
                           for fmt, path in paths.items()})
    assert row["png"].read_bytes() == paths["png"].read_bytes() and row["png"].path.endswith(".png")
    assert row["jpg"].read_bytes() == paths["jpg"].read_bytes() and row["jpg"].path.endswith(".jpg")
    for fmt in ("bmp", "tiff"):  # re-encoded losslessly
        assert row[fmt].path.endswith(".png") and np.array_equal(_pixels(row[fmt]), pixels)
    assert all((row[f].fields["width"], row[f].fields["height"], row[f].fields["caption"]) == (7, 9, f) for f in paths)


def test_a_missing_or_unreadable_image_file_is_left_out_with_a_warning(tmp_path) -> None:
    (tmp_path / "notes.png").write_text("not an image")
    run = tracker_core.init(project="wb-images")
    with pytest.warns(TrackerWarning) as caught:
        run.log({"gone": tracker_core.Image(str(tmp_path / "gone.png")),
                 "bad": tracker_core.Image(str(tmp_path / "notes.png")), "loss": 1.0})
    run.finish()
    text = " ".join(str(w.message) for w in caught)
    assert "'gone'" in text and "No such file" in text and "'bad'" in text and "Pillow cannot read" in text
    row = tracker_core.Api().run(run.path).history()[0]
    assert row["loss"] == 1.0 and "gone" not in row and "bad" not in row


@pytest.mark.parametrize("dtype", ["int16", "int32", "int64", "uint16", "uint32", "uint64"])
def test_integer_arrays_of_any_dtype_are_clipped_to_0_255(dtype) -> None:
    array = np.array([[[-5, 0, 7], [128, 255, 256]], [[300, 1000, 12], [1, 2, 3]]]).clip(
        np.iinfo(dtype).min, None).astype(dtype)
    row = _log_and_read(img=tracker_core.Image(array))
    assert np.array_equal(_pixels(row["img"]), array.astype(np.int64).clip(0, 255).astype(np.uint8))


def test_float_arrays_follow_wandbs_rescaling_rules() -> None:
    rng = np.random.default_rng(1)
    unit = rng.random((4, 5, 3), dtype=np.float32)  # [0, 1]: x * 255, truncated
    signed = (unit * 2 - 1).astype(np.float32)  # [-1, 1]: (x + 1) * 127.5, truncated
    scaled = (unit * 255).astype(np.float32)  # img * 255 as float32: truncated
    normalised = np.linspace(-0.4, 2.8, 60, dtype=np.float32).reshape(4, 5, 3)  # elsewhere: clipped to [0, 255]
    binary = np.array([[0, 1], [1, 0]], dtype=np.uint8)  # integers in [0, 1] are stretched too, as in wandb
    row = _log_and_read(unit=tracker_core.Image(unit), signed=tracker_core.Image(signed),
                        scaled=tracker_core.Image(scaled), normalised=tracker_core.Image(normalised),
                        binary=tracker_core.Image(binary), raw=tracker_core.Image(binary, normalize=False))
    assert np.array_equal(_pixels(row["unit"]), (unit * 255).astype(np.uint8))
    assert np.array_equal(_pixels(row["signed"]), (127.5 * (signed + 1)).astype(np.uint8))
    assert np.array_equal(_pixels(row["scaled"]), scaled.astype(np.uint8))
    assert np.array_equal(_pixels(row["normalised"]), normalised.clip(0, 255).astype(np.uint8))
    assert _pixels(row["normalised"]).max() == 2
    assert np.array_equal(_pixels(row["binary"]), binary * 255)
    assert np.array_equal(_pixels(row["raw"]), binary)


def test_torch_tensors_are_channels_first_and_rescaled_like_numpy() -> None:
    torch = pytest.importorskip("torch")
    tensor = torch.linspace(-1, 1, 3 * 4 * 4).reshape(3, 4, 4)  # ambiguous shape: channels first, as wandb
    half = torch.rand(3, 5, 2).half()
    row = _log_and_read(t=tracker_core.Image(tensor), h=tracker_core.Image(half))
    expected = (127.5 * (tensor.numpy() + 1)).astype(np.uint8).transpose(1, 2, 0)
    assert np.array_equal(_pixels(row["t"]), expected)
    assert np.array_equal(_pixels(row["h"]), (half.numpy() * 255).astype(np.uint8).transpose(1, 2, 0))


def test_masks_are_stored_as_png_files_with_class_labels() -> None:
    image = np.zeros((6, 8, 3), dtype=np.uint8)
    predicted = np.zeros((6, 8), dtype=np.int64)
    predicted[:3, 4:] = 2
    predicted[3:, :] = 3
    truth = np.ones((6, 8), dtype=np.uint8)
    labels = {0: "person", 1: "tree", 2: "car", 3: "road"}
    row = _log_and_read(seg=tracker_core.Image(image, masks={
        "predictions": {"mask_data": predicted, "class_labels": labels},
        "ground_truth": {"mask_data": truth}}))
    ref = row["seg"]
    masks = ref.masks
    assert set(masks) == {"predictions", "ground_truth"}
    assert masks["predictions"].path.endswith(".mask.png") and os.path.dirname(masks["predictions"].path) == \
        os.path.dirname(ref.path)
    assert np.array_equal(_pixels(masks["predictions"]), predicted.astype(np.uint8))
    assert masks["predictions"].fields["class_labels"] == {"0": "person", "1": "tree", "2": "car", "3": "road"}
    assert masks["ground_truth"].fields["class_labels"] == {"1": "class_1"}  # wandb's default names
    assert ref.fields["classes"] == [{"id": 0, "name": "person"}, {"id": 1, "name": "tree"},  # a default name
                                     {"id": 2, "name": "car"}, {"id": 3, "name": "road"}]  # never hides a given one


def test_boxes_are_stored_as_json_with_positions_class_ids_scores_and_captions() -> None:
    boxes = {"predictions": {"box_data": [
        {"position": {"minX": 0.1, "maxX": 0.2, "minY": 0.3, "maxY": 0.4}, "class_id": 1, "box_caption": "car",
         "scores": {"acc": np.float32(0.5), "loss": 1.2}},
        {"position": {"middle": [150, 20], "width": 68, "height": np.int64(112)}, "domain": "pixel",
         "class_id": np.int64(3), "box_caption": "a building", "scores": {"acc": 0.5}},
    ], "class_labels": {1: "car", 3: "building"}}}
    row = _log_and_read(scene=tracker_core.Image(np.zeros((200, 300, 3), np.uint8), boxes=boxes))
    layer = row["scene"].boxes["predictions"]
    assert layer.path.endswith(".boxes2D.json") and layer.fields["count"] == 2
    document = orjson.loads(layer.read_bytes())
    assert document == {"class_labels": {"1": "car", "3": "building"}, "box_data": [
        {"position": {"minX": 0.1, "maxX": 0.2, "minY": 0.3, "maxY": 0.4}, "class_id": 1, "box_caption": "car",
         "scores": {"acc": 0.5, "loss": 1.2}},
        {"position": {"middle": [150, 20], "width": 68, "height": 112}, "domain": "pixel", "class_id": 3,
         "box_caption": "a building", "scores": {"acc": 0.5}}]}


def test_a_malformed_box_or_mask_costs_that_part_and_the_image_is_kept_with_a_warning_naming_it() -> None:
    mask = np.ones((4, 4), np.uint8)
    good_box = {"position": {"minX": 0.1, "maxX": 0.4, "minY": 0.2, "maxY": 0.3}, "class_id": 2}
    run = tracker_core.init(project="wb-images")
    with pytest.warns(TrackerWarning) as caught:
        run.log({"a": tracker_core.Image(np.zeros((4, 4), np.uint8), boxes={"p": {"box_data": [{"class_id": 1},
                                                                                              good_box]}}),
                 "b": tracker_core.Image(np.zeros((4, 4), np.uint8), masks={
                     "m": {"mask_data": np.full((4, 4), 300)}, "ok": {"mask_data": mask}}),
                 "loss": 0.5})
    run.finish()
    text = " ".join(str(w.message) for w in caught)
    assert "a: boxes 'p' box 0" in text and "b: masks 'm'" in text and "between 0 and 255" in text
    row = tracker_core.Api().run(run.path).history()[0]
    assert row["loss"] == 0.5
    boxes = row["a"].boxes["p"]
    assert boxes.fields["count"] == 1 and orjson.loads(boxes.read_bytes())["box_data"][0]["class_id"] == 2
    assert row["a"].fields["left_out"] == ["boxes 'p' box 0"]
    assert set(row["b"].masks) == {"ok"} and np.array_equal(_pixels(row["b"].masks["ok"]), mask)
    assert row["b"].fields["left_out"] == ["masks 'm'"]


def test_logging_the_pyplot_module_stores_its_current_figure_as_an_image() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.figure(figsize=(2, 1.5), dpi=50)
    plt.plot([1, 2, 3], [3, 1, 2])
    figure = plt.gcf()
    run = tracker_core.init(project="wb-images")
    run.log({"chart": plt})
    run.log({"fig": figure})
    run.finish()
    rows = tracker_core.Api().run(run.path).history()
    assert rows[0]["chart"].kind == "image" and (rows[0]["chart"].fields["width"], rows[0]["chart"].fields["height"]) \
        == (100, 75)
    assert rows[0]["chart"].read_bytes() == rows[1]["fig"].read_bytes()  # the same figure, rendered the same
    assert _pixels(rows[0]["chart"]).shape == (75, 100, 4)
    plt.close("all")


def test_a_refused_image_costs_its_cell_not_the_table() -> None:
    good = np.full((3, 3, 3), 200, dtype=np.uint8)
    table = tracker_core.Table(columns=["id", "image"])
    table.add_data(0, tracker_core.Image(good))
    table.add_data(1, tracker_core.Image(np.full((3, 3), np.nan)))  # refused: NaN pixels
    table.add_data(2, tracker_core.Image(good, caption="third"))
    run = tracker_core.init(project="wb-images")
    with pytest.warns(TrackerWarning, match=r"(?s)predictions, row 1, column 'image'.*stored as null.*NaN"):
        run.log({"predictions": table, "loss": 0.1})
    run.finish()
    ref = tracker_core.Api().run(run.path).history()[0]["predictions"]
    rows = ref.rows()
    assert [r[0] for r in rows] == [0, 1, 2] and rows[1][1] is None
    assert np.array_equal(_pixels(rows[0][1]), good) and rows[2][1].fields["caption"] == "third"
    assert ref.fields["skipped"] == [[1, "image"]]


def test_file_type_jpg_grouping_and_classes_are_kept_as_wandb_keeps_them() -> None:
    pixels = np.full((8, 8, 4), 120, dtype=np.uint8)
    row = _log_and_read(img=tracker_core.Image(pixels, file_type="jpg", grouping=2,
                                               classes=[{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]))
    ref = row["img"]
    assert ref.path.endswith(".jpg") and ref.read_bytes()[:2] == b"\xff\xd8"
    decoded = _pixels(ref)
    assert decoded.shape == (8, 8, 3) and abs(int(decoded.mean()) - 120) <= 2  # alpha dropped, lossy but close
    assert ref.fields["grouping"] == 2 and ref.fields["classes"] == [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]

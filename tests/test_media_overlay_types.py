"""W&B's overlay objects (ImageMask, BoundingBoxes2D, Classes) and lists of images, logged and read back.

What wandb stores for them (its data_types docs): a mask is a PNG of class ids with its
class_labels, a box layer a JSON {"box_data", "class_labels"}, and the image's class list the
{"id", "name"} pairs. Bad parts cost only themselves: the image, the other layers, the other list
items are stored, with a warning naming what was left out.
"""

from __future__ import annotations

import io

import orjson
import pytest

import tracker_core
from tracker_core import LogValueError, MediaError, TrackerWarning

np = pytest.importorskip("numpy")
PILImage = pytest.importorskip("PIL.Image")

LABELS = {0: "background", 1: "cat", 2: "dog"}
BOX = {"position": {"minX": 0.1, "maxX": 0.5, "minY": 0.2, "maxY": 0.6}, "class_id": 1, "box_caption": "cat",
       "scores": {"conf": 0.9}}


def _mask() -> object:
    mask = np.zeros((6, 8), dtype=np.uint8)
    mask[:3, :4] = 1
    mask[3:, 4:] = 2
    return mask


def _log_and_read(**row: object) -> dict:
    run = tracker_core.init(project="overlays")
    run.log(row)
    run.finish()
    return tracker_core.Api().run(run.path).history()[0]


def _pixels(ref) -> object:
    return np.asarray(PILImage.open(io.BytesIO(ref.read_bytes())))


def test_the_objects_store_exactly_what_their_dict_forms_store() -> None:
    image = np.zeros((6, 8, 3), dtype=np.uint8)
    as_objects = tracker_core.Image(image, masks={"pred": tracker_core.ImageMask(
        {"mask_data": _mask(), "class_labels": LABELS}, key="pred")}, boxes={"gt": tracker_core.BoundingBoxes2D(
            {"box_data": [BOX], "class_labels": LABELS}, "gt")})
    as_dicts = tracker_core.Image(image, masks={"pred": {"mask_data": _mask(), "class_labels": LABELS}},
                                  boxes={"gt": {"box_data": [BOX], "class_labels": LABELS}})
    assert as_objects.encode() == as_dicts.encode()
    row = _log_and_read(seg=as_objects)
    mask = row["seg"].masks["pred"]
    assert mask.path.endswith(".mask.png") and np.array_equal(_pixels(mask), _mask())
    assert mask.fields["class_labels"] == {"0": "background", "1": "cat", "2": "dog"}
    boxes = row["seg"].boxes["gt"]
    assert orjson.loads(boxes.read_bytes()) == {"box_data": [BOX], "class_labels": {"0": "background", "1": "cat",
                                                                                    "2": "dog"}}


def test_a_mask_from_a_png_path_keeps_its_bytes_and_names_the_ids_it_holds(tmp_path) -> None:
    path = tmp_path / "mask.png"
    PILImage.fromarray(_mask(), mode="L").save(path)
    mask = tracker_core.ImageMask({"path": str(path)}, key="pred")
    row = _log_and_read(seg=tracker_core.Image(np.zeros((6, 8), np.uint8), masks={"pred": mask}))
    stored = row["seg"].masks["pred"]
    assert stored.read_bytes() == path.read_bytes()
    assert stored.fields["class_labels"] == {"0": "class_0", "1": "class_1", "2": "class_2"}  # wandb's defaults


def test_classes_name_the_image_classes_alone_or_on_top_of_the_layers() -> None:
    classes = tracker_core.Classes([{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}, {"id": 3, "name": "bird"}])
    assert classes == tracker_core.Classes([{"id": 3, "name": "bird"}, {"id": 1, "name": "cat"},
                                            {"id": 2, "name": "dog"}])
    row = _log_and_read(plain=tracker_core.Image(np.zeros((4, 4), np.uint8), classes=classes),
                        seg=tracker_core.Image(np.zeros((6, 8), np.uint8), masks={"m": {"mask_data": _mask()}},
                                               classes=classes),
                        alone=classes)
    assert row["plain"].fields["classes"] == [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"},
                                              {"id": 3, "name": "bird"}]
    assert row["seg"].masks["m"].fields["class_labels"] == {"0": "class_0", "1": "class_1", "2": "class_2"}
    assert row["seg"].fields["classes"] == [{"id": 0, "name": "class_0"}, {"id": 1, "name": "cat"},
                                            {"id": 2, "name": "dog"}, {"id": 3, "name": "bird"}]
    assert row["alone"].kind == "classes" and row["alone"].fields["class_set"] == row["plain"].fields["classes"]


def test_a_mask_or_box_layer_logged_alone_is_stored_with_its_file() -> None:
    row = _log_and_read(mask=tracker_core.ImageMask({"mask_data": _mask(), "class_labels": LABELS}, "pred"),
                        boxes=tracker_core.BoundingBoxes2D({"box_data": [BOX]}, "gt"))
    assert row["mask"].kind == "mask" and np.array_equal(_pixels(row["mask"]), _mask())
    assert row["boxes"].kind == "boxes2D" and row["boxes"].fields["class_labels"] == {"1": "class_1"}
    assert orjson.loads(row["boxes"].read_bytes())["box_data"] == [BOX]


@pytest.mark.parametrize(("build", "message"), [
    (lambda: tracker_core.ImageMask({"class_labels": LABELS}, "m"), "no 'mask_data'"),
    (lambda: tracker_core.ImageMask({"mask_data": np.zeros((2, 2, 2), np.uint8)}, "m"), "2-D"),
    (lambda: tracker_core.ImageMask({"mask_data": np.full((2, 2), -1)}, "m"), "between 0 and 255"),
    (lambda: tracker_core.ImageMask({"mask_data": np.zeros((2, 2), np.uint8), "class_labels": {"a": 1}}, "m"),
     "class_labels"),
    (lambda: tracker_core.ImageMask({"path": "no-such-mask.png"}, "m"), "readable PNG"),
    (lambda: tracker_core.BoundingBoxes2D({"class_labels": LABELS}, "b"), "box_data"),
    (lambda: tracker_core.BoundingBoxes2D({"box_data": [BOX], "class_labels": [1]}, "b"), "class_labels"),
    (lambda: tracker_core.Classes([{"id": 1}]), "Classes item 0"),
    (lambda: tracker_core.Classes("cat"), "Classes"),
])
def test_bad_input_raises_from_validate_not_from_the_constructor(build, message) -> None:
    value = build()  # the training loop is not stopped here
    with pytest.raises(MediaError, match=message):
        value.validate()


@pytest.mark.parametrize(("box", "part"), [
    ({"position": {"minX": 0.1, "maxX": 0.2, "minY": 0.3}}, "position"),  # maxY missing
    ({"position": {"middle": [0.5], "width": 0.1, "height": 0.1}}, "middle"),
    ({"position": {"middle": [0.5, 0.5], "width": 0.1}}, "position"),
    ({"position": {"minX": "0.1", "maxX": 0.2, "minY": 0.3, "maxY": 0.4}}, "minX"),
    ({"position": {"minX": float("nan"), "maxX": 0.2, "minY": 0.3, "maxY": 0.4}}, "minX"),
    ({**BOX, "class_id": 1.5}, "class_id"),
    ({**BOX, "scores": {"conf": "high"}}, "score 'conf'"),
    ({**BOX, "box_caption": 3}, "box_caption"),
    ({**BOX, "domain": "percent"}, "domain"),
])
def test_a_malformed_box_is_left_out_with_a_warning_and_the_image_and_other_boxes_are_kept(box, part) -> None:
    run = tracker_core.init(project="overlays")
    with pytest.warns(TrackerWarning, match=rf"(?s)scene: boxes 'gt' box 1.*{part}"):
        run.log({"scene": tracker_core.Image(np.zeros((8, 8, 3), np.uint8), caption="s",
                                             boxes={"gt": {"box_data": [BOX, box, BOX]}})})
    run.finish()
    scene = tracker_core.Api().run(run.path).history()[0]["scene"]
    assert scene.fields["caption"] == "s" and scene.fields["left_out"] == ["boxes 'gt' box 1"]
    assert orjson.loads(scene.boxes["gt"].read_bytes())["box_data"] == [BOX, BOX]


def test_bad_classes_or_layer_containers_cost_only_themselves() -> None:
    run = tracker_core.init(project="overlays")
    with pytest.warns(TrackerWarning) as caught:
        run.log({"a": tracker_core.Image(np.zeros((6, 8), np.uint8), masks={"m": {"mask_data": _mask()}},
                                         classes=[{"id": "one", "name": "cat"}]),
                 "b": tracker_core.Image(np.zeros((6, 8), np.uint8), masks=[_mask()], boxes={"": {"box_data": []}}),
                 "c": tracker_core.Image(np.zeros((6, 8), np.uint8), masks={"m": tracker_core.BoundingBoxes2D(
                     {"box_data": [BOX]}, "m")})})
    run.finish()
    text = " ".join(str(w.message) for w in caught)
    assert "'a: classes'" in text and "'b: masks'" in text and "\"b: boxes ''\"" in text and "\"c: masks 'm'\"" in text
    row = tracker_core.Api().run(run.path).history()[0]
    assert row["a"].fields["left_out"] == ["classes"] and set(row["a"].masks) == {"m"}
    assert row["a"].fields["classes"] == [{"id": 0, "name": "class_0"}, {"id": 1, "name": "class_1"},
                                          {"id": 2, "name": "class_2"}]
    assert row["b"].fields["left_out"] == ["masks", "boxes ''"] and "masks" not in row["b"].fields
    assert row["c"].fields["left_out"] == ["masks 'm'"]


def test_a_bad_image_in_a_list_costs_that_item_only() -> None:
    good = [np.full((4, 4, 3), v, np.uint8) for v in (10, 20, 30)]
    run = tracker_core.init(project="overlays")
    with pytest.warns(TrackerWarning, match=r"(?s)'examples\[1\]'.*left out of the list.*NaN"):
        run.log({"examples": [tracker_core.Image(good[0], caption="a"), tracker_core.Image(np.full((4, 4), np.nan)),
                              tracker_core.Image(good[1], caption="b"), tracker_core.Image(good[2], caption="c")],
                 "loss": 0.3})
    run.finish()
    row = tracker_core.Api().run(run.path).history()[0]
    examples = row["examples"]
    assert row["loss"] == 0.3 and examples.fields["skipped"] == [1]
    assert [item.fields["caption"] for item in examples.items] == ["a", "b", "c"]
    assert all(np.array_equal(_pixels(item), pixels) for item, pixels in zip(examples.items, good, strict=True))


def test_a_list_whose_items_all_fail_is_left_out_and_strict_mode_raises() -> None:
    bad = [tracker_core.Image(np.full((4, 4), np.nan)), tracker_core.Image("no-such-file.png")]
    run = tracker_core.init(project="overlays")
    with pytest.warns(TrackerWarning, match=r"(?s)'examples'.*could not be stored.*NaN"):
        run.log({"examples": bad, "loss": 0.1})
    run.finish()
    row = tracker_core.Api().run(run.path).history()[0]
    assert "examples" not in row and row["loss"] == 0.1
    strict = tracker_core.init(project="overlays-strict", strict=True)
    with pytest.raises(LogValueError, match=r"examples\[0\]"):
        strict.log({"examples": [bad[0], tracker_core.Image(np.zeros((2, 2), np.uint8))]})
    strict.finish()


def test_a_table_cell_image_with_a_bad_mask_keeps_the_image_and_names_row_column_and_layer() -> None:
    table = tracker_core.Table(columns=["id", "image"])
    table.add_data(0, tracker_core.Image(np.zeros((6, 8), np.uint8), masks={
        "pred": {"mask_data": _mask(), "class_labels": LABELS}, "bad": {"mask_data": np.full((6, 8), 999)}}))
    run = tracker_core.init(project="overlays")
    with pytest.warns(TrackerWarning, match=r"(?s)preds: row 0, column 'image', masks 'bad'.*between 0 and 255"):
        run.log({"preds": table})
    run.finish()
    cell = tracker_core.Api().run(run.path).history()[0]["preds"].rows()[0][1]
    assert set(cell.masks) == {"pred"} and np.array_equal(_pixels(cell.masks["pred"]), _mask())

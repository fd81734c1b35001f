"""Media values logged through run.log(): stored once in the run folder, read back as openable objects."""

from __future__ import annotations

import math
import os

import pytest

import tracker_core
from tracker_core import LogValueError, TrackerWarning

np = pytest.importorskip("numpy")
pytest.importorskip("PIL")


def _image(seed: int) -> object:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(8, 6, 3), dtype=np.uint8)
    return tracker_core.Image(pixels, caption=f"sample {seed}")


def test_an_image_is_stored_once_in_the_run_and_read_back_pixel_for_pixel() -> None:
    from io import BytesIO

    from PIL import Image as PILImage

    pixels = np.arange(8 * 6 * 3, dtype=np.uint8).reshape(8, 6, 3)
    run = tracker_core.init(project="media")
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1), "sample": tracker_core.Image(pixels, caption="same")}, step=step)
    run.finish()
    rows = tracker_core.Api().run(run.path).history()
    refs = [row["sample"] for row in rows]
    assert {ref.kind for ref in refs} == {"image"} and len({ref.path for ref in refs}) == 1
    assert refs[0].fields["caption"] == "same" and (refs[0].fields["width"], refs[0].fields["height"]) == (6, 8)
    decoded = np.asarray(PILImage.open(BytesIO(refs[0].read_bytes())).convert("RGB"))
    assert (decoded == pixels).all()
    assert len(os.listdir(os.path.join(run.dir, "media"))) == 1  # the same image three times: one file
    assert rows[2]["loss"] == pytest.approx(1 / 3)


def test_a_list_of_images_and_a_table_with_image_cells_round_trip() -> None:
    table = tracker_core.Table(columns=["text", "label", "confidence", "correct", "picture"])
    table.add_data("the cat sat", "pos", 0.71, False, _image(1))
    table.add_data("a dog ran", "neg", float("nan"), True, _image(2))
    run = tracker_core.init(project="media")
    run.log({"samples": [_image(3), _image(4)], "val/predictions": table})
    run.finish()
    row = tracker_core.Api().run(run.path).history()[0]
    assert [item.kind for item in row["samples"].items] == ["image", "image"]
    assert all(os.path.exists(item.path) for item in row["samples"].items)
    predictions = row["val/predictions"]
    assert predictions.columns == ["text", "label", "confidence", "correct", "picture"]
    first, second = predictions.rows()
    assert first[:4] == ["the cat sat", "pos", 0.71, False] and math.isnan(second[2])
    assert second[4].kind == "image" and os.path.exists(second[4].path)


def test_a_histogram_is_a_compact_record_in_the_log() -> None:
    values = np.concatenate([np.linspace(-1, 1, 1000), [np.nan, np.inf]])
    run = tracker_core.init(project="media")
    run.log({"weights/layer1": tracker_core.Histogram(values, num_bins=16)})
    run.finish()
    ref = tracker_core.Api().run(run.path).history()[0]["weights/layer1"]
    assert ref.kind == "histogram" and sum(ref.fields["values"]) == 1000 and len(ref.fields["bins"]) == 17
    assert ref.path is None


def test_a_bad_media_value_is_skipped_with_a_warning_and_the_row_is_kept() -> None:
    class Broken(tracker_core.Image):  # encodes badly after passing validation
        def encode(self) -> object:
            raise tracker_core.MediaError("simulated encoder failure")

    broken = Broken(np.zeros((2, 2), dtype=np.uint8))
    run = tracker_core.init(project="media")
    with pytest.warns(TrackerWarning, match="could not be stored"):
        run.log({"loss": 0.5, "picture": broken})
    run.finish()
    row = tracker_core.Api().run(run.path).history()[0]
    assert row["loss"] == 0.5 and "picture" not in row


def test_strict_mode_raises_on_a_media_value_that_cannot_be_stored() -> None:
    class Broken(tracker_core.Image):
        def encode(self) -> object:
            raise tracker_core.MediaError("simulated encoder failure")

    run = tracker_core.init(project="media", strict=True)
    with pytest.raises(LogValueError, match="picture"):
        run.log({"picture": Broken(np.zeros((2, 2), dtype=np.uint8))})


def test_media_built_from_bad_input_does_not_stop_training_and_is_left_out_with_a_warning() -> None:
    bad_image = tracker_core.Image(np.zeros((4, 4), dtype=np.complex64))  # no exception here, in the training loop
    table = tracker_core.Table(columns=["a", "b"])
    table.add_data(1)  # one value for two columns: kept for later too
    run = tracker_core.init(project="media")
    with pytest.warns(TrackerWarning) as caught:
        run.log({"loss": 0.25, "picture": bad_image, "predictions": table})
    messages = " ".join(str(w.message) for w in caught)
    assert "'picture'" in messages and "float dtype" in messages  # names the key and the accepted forms
    assert "'predictions'" in messages and "one value per column" in messages
    run.finish()
    row = tracker_core.Api().run(run.path).history()[0]
    assert row["loss"] == 0.25 and "picture" not in row and "predictions" not in row


def test_strict_mode_raises_for_media_built_from_bad_input() -> None:
    run = tracker_core.init(project="media", strict=True)
    with pytest.raises(LogValueError, match="picture"):
        run.log({"picture": tracker_core.Image(np.full((4, 4), np.nan))})


def test_threads_logging_the_same_media_value_all_record_it() -> None:
    import threading

    image = tracker_core.Image(np.full((4, 4, 3), 9, dtype=np.uint8))
    run = tracker_core.init(project="media")

    def work() -> None:
        for _ in range(50):
            run.log({"picture": image})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.finish()
    rows = tracker_core.Api().run(run.path).history()
    assert sum("picture" in row for row in rows) == 200
    assert all(os.path.exists(row["picture"].path) for row in rows)

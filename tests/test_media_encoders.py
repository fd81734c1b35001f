"""The pure media encoders: value -> record fields + content-addressed files, checked by decoding them back."""

from __future__ import annotations

import hashlib
import io
import math
import subprocess
import sys
import wave

import pytest

from tracker_core import TrackerError
from tracker_core.media import (
    Audio,
    EncodedMedia,
    Histogram,
    Image,
    Media,
    MediaError,
    Plot,
    Table,
    Video,
    decode_plot,
    decode_table,
)


@pytest.fixture
def np():
    return pytest.importorskip("numpy")


@pytest.fixture
def pil():
    return pytest.importorskip("PIL.Image")


@pytest.fixture
def plt():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    plt.close("all")
    return plt


def decode_png(pil, encoded: EncodedMedia):
    import numpy

    assert encoded.files[0].data.startswith(b"\x89PNG\r\n\x1a\n")
    with pil.open(io.BytesIO(encoded.files[0].data)) as image:
        image.load()
        return numpy.asarray(image)


def check_addresses(encoded: EncodedMedia) -> None:
    for media_file in encoded.files:
        assert media_file.sha256 == hashlib.sha256(media_file.data).hexdigest()
        assert media_file.name == f"{media_file.sha256}.{media_file.extension}"
    main = encoded.files[0]
    assert (encoded.fields["file"], encoded.fields["sha256"], encoded.fields["size"]) == (
        main.name, main.sha256, len(main.data))


def test_importing_media_loads_no_heavy_library():
    code = ("import sys, tracker_core.media; "
            "print(sorted(m for m in ('numpy', 'PIL', 'torch', 'matplotlib', 'pandas') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(("shape", "layout"), [
    ((6, 7), "HW"), ((6, 7, 1), "HWC"), ((6, 7, 3), "HWC"), ((6, 7, 4), "HWC"), ((3, 6, 7), "CHW"), ((4, 6, 7), "CHW"),
    ((1, 6, 7), "CHW"),
])
def test_image_arrays_decode_to_the_same_pixels(np, pil, shape, layout):
    array = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    expected = np.moveaxis(array, 0, -1) if layout == "CHW" else array
    encoded = Image(array, caption="x").encode()
    pixels = decode_png(pil, encoded)
    assert np.array_equal(pixels, expected.squeeze(-1) if expected.ndim == 3 and expected.shape[-1] == 1 else expected)
    assert encoded.kind == "image"
    assert (encoded.fields["width"], encoded.fields["height"], encoded.fields["caption"]) == (7, 6, "x")
    assert encoded.fields["channels"] == (1 if len(shape) == 2 else expected.shape[-1])
    check_addresses(encoded)


def test_float_image_in_0_1_is_scaled_to_0_255_and_truncated_as_wandb_does(np, pil):
    array = np.random.default_rng(1).random((5, 4, 3), dtype=np.float32)
    pixels = decode_png(pil, Image(array).encode())
    assert np.array_equal(pixels, np.floor(array.astype(np.float64) * 255).astype(np.uint8))


def test_torch_tensor_image_is_detached_and_decoded(np, pil):
    torch = pytest.importorskip("torch")
    tensor = torch.rand(3, 5, 6, requires_grad=True)
    pixels = decode_png(pil, Image(tensor).encode())
    expected = (tensor.detach().numpy() * 255).astype(np.uint8).transpose(1, 2, 0)
    assert np.array_equal(pixels, expected)


@pytest.mark.parametrize(("mode", "channels"), [("RGB", 3), ("RGBA", 4), ("L", 1), ("P", 3), ("LA", 4)])
def test_pil_images_keep_their_pixels(np, pil, mode, channels):
    source = pil.fromarray(np.random.default_rng(2).integers(0, 256, size=(5, 6, 3), dtype=np.uint8)).convert(mode)
    encoded = Image(source).encode()
    expected = np.asarray(source.convert({1: "L", 3: "RGB", 4: "RGBA"}[channels]))
    assert np.array_equal(decode_png(pil, encoded), expected)
    assert encoded.fields["channels"] == channels


def test_pil_image_is_converted_to_the_given_mode(np, pil):
    source = pil.fromarray(np.full((3, 3, 3), 200, dtype=np.uint8))
    encoded = Image(source, mode="L").encode()
    assert encoded.fields["channels"] == 1
    assert np.array_equal(decode_png(pil, encoded), np.asarray(source.convert("L")))


def test_image_copies_the_array_so_later_changes_do_not_leak_in(np):
    array = np.zeros((4, 4, 3), dtype=np.uint8)
    image = Image(array)
    before = image.encode().fields["sha256"]
    array[:] = 255
    assert image.encode().fields["sha256"] == before != Image(array).encode().fields["sha256"]


def test_matplotlib_figure_is_rendered_to_png_and_closed(np, pil, plt):
    figure, axes = plt.subplots(figsize=(2, 1.5), dpi=50)
    axes.plot([0, 1, 2], [2, 0, 1])
    encoded = Image(figure, caption="epoch 3").encode()
    pixels = decode_png(pil, encoded)
    assert pixels.shape == (75, 100, 4) and pixels.std() > 0
    assert (encoded.fields["width"], encoded.fields["height"], encoded.fields["channels"]) == (100, 75, 4)
    assert plt.get_fignums() == []


def test_two_hundred_figures_leave_no_open_figure(plt):
    for index in range(200):
        figure = plt.figure(figsize=(1, 1), dpi=20)
        figure.gca().plot([0, index])
        Image(figure)
        assert len(plt.get_fignums()) == 0


def test_same_input_gives_the_same_bytes_and_sha256(np, pil, plt):
    rng = np.random.default_rng(3)
    frames, pixels, samples = rng.random((3, 4, 4, 3)), rng.random((8, 8)), rng.random(50) - 0.5

    def figure():
        fig = plt.figure(figsize=(1, 1), dpi=30)
        fig.gca().plot([1, 3, 2])
        return Image(fig)

    makers = [lambda: Image(pixels), figure, lambda: Video(frames), lambda: Audio(samples, 8000),
              lambda: Table(["a", "b"], [[1, Image(pixels)], [math.nan, "x"]]),
              lambda: Plot({"mark": "bar"}, [{"x": 1}]), lambda: Histogram(pixels.ravel())]
    for make in makers:
        first, second = make().encode(), make().encode()
        assert first == second
    assert Image(pixels).encode().fields["sha256"] != Image(pixels * 0.5).encode().fields["sha256"]


BAD_INPUTS = [
    (lambda np: Image([[0, 1], [1, 0]]), "Image data", "numpy array or torch tensor"),
    (lambda np: Image(np.zeros((5, 5, 2), np.uint8)), "2 channels", "1, 3 or 4 channels"),
    (lambda np: Image(np.zeros((2, 3, 4, 5), np.uint8)), "shape (2, 3, 4, 5)", "HW, HWC or CHW"),
    (lambda np: Image(np.full((4, 4), np.nan)), "NaN", "integer, bool or float dtype"),
    (lambda np: Image(np.zeros((4, 4), np.complex64)), "dtype complex64", "integer, bool or float dtype"),
    (lambda np: Image(np.zeros((0, 4), np.uint8)), "empty", "HW, HWC or CHW"),
    (lambda np: Image(np.zeros((4, 4), np.uint8), mode="CMYK"), "Image mode", "'RGBA'"),
    (lambda np: Image(np.zeros((4, 4, 3), np.uint8), mode="L"), "mode 'L'", "1 channels"),
    (lambda np: Image(np.zeros((4, 4), np.uint8), caption=3), "Image caption", "a str or None"),
    (lambda np: Table(columns=["a", "b"], data=[[1]]), "Table row 0", "one value per column of ['a', 'b']"),
    (lambda np: Table(columns=["a", "a"]), "duplicate names ['a']", "unique"),
    (lambda np: Table(data=[[1]]), "Table columns", "Table(columns=[...])"),
    (lambda np: Table(["a"], [[{"x": 1}]]), "column 'a'", "NumPy scalars, or a media value"),
    (lambda np: Table(["a"], [[np.zeros(3)]]), "shape (3,)", "a media value"),
    (lambda np: Table(["a"]).get_column("b"), "'b'", "one of ['a']"),
    (lambda np: Table(["t"], [[Table(["a"])]]), "a Table", "tables do not nest"),
    (lambda np: Histogram(), "no values", "np_histogram="),
    (lambda np: Histogram([1.0], num_bins=0), "num_bins", "1 to 512"),
    (lambda np: Histogram([1.0], num_bins=513), "num_bins", "1 to 512"),
    (lambda np: Histogram(["a", "b"]), "dtype <U1", "real numbers"),
    (lambda np: Histogram(np_histogram=([1, 2], [0.0, 1.0])), "2 counts and 2 bin edges", "len(counts) + 1"),
    (lambda np: Histogram(np_histogram=([1], [1.0, 0.0])), "decreasing edges", "increasing"),
    (lambda np: Audio(np.zeros(10), sample_rate=0), "sample_rate", "positive int"),
    (lambda np: Audio(np.zeros(10), sample_rate=44100.5), "sample_rate", "positive int"),
    (lambda np: Audio(np.full(10, 1.5), 8000), "samples in [1.5, 1.5]", "float in [-1, 1]"),
    (lambda np: Audio(np.zeros(10, np.int32), 8000), "dtype int32", "int16"),
    (lambda np: Audio(np.zeros((2, 16000)), 8000), "shape (2, 16000)", "data.T"),
    (lambda np: Video(np.zeros((4, 4), np.uint8)), "shape (4, 4)", "(T, H, W, C)"),
    (lambda np: Video(np.zeros((0, 4, 4, 3), np.uint8)), "shape (0, 4, 4, 3)", "(T, H, W, C)"),
    (lambda np: Video(np.zeros((2, 4, 4, 3)), fps=0), "Video fps", "positive number"),
    (lambda np: Video(np.zeros((2, 4, 4, 3)), format="mp4"), "'mp4'", "animated GIF only"),
    (lambda np: Plot("{not json"), "invalid JSON", "Vega-Lite spec"),
    (lambda np: Plot("[1, 2]"), "a list of length 2", "Vega-Lite spec"),
    (lambda np: Plot({"mark": "bar"}, data={"x": [1]}), "Plot data", "list of mappings"),
    (lambda np: Plot({"mark": "bar"}, data=[1, 2]), "Plot data", "list of mappings"),
    (lambda np: Plot({"width": math.nan}), "NaN", "put such values in data="),
    (lambda np: Plot({"mark": object()}), "'mark'", "Vega-Lite spec"),
]


@pytest.mark.parametrize(("make", "given", "accepted"), BAD_INPUTS, ids=[f"bad{i}" for i in range(len(BAD_INPUTS))])
def test_bad_input_raises_media_error_naming_the_accepted_forms(np, make, given, accepted):
    with pytest.raises(MediaError) as caught:
        value = make(np)  # building keeps the error (training goes on); validate() or encode() raises it
        value.validate()
    message = str(caught.value)
    assert given in message and accepted in message
    assert "accepted:" in message
    assert isinstance(caught.value, TrackerError) and isinstance(caught.value, TypeError)


def test_table_round_trips_scalars_nan_and_an_image_cell(np, pil):
    image = Image(np.full((2, 3, 3), 7, dtype=np.uint8), caption="cell")
    table = Table(columns=["text", "score", "big", "ok", "none", "picture"])
    table.add_data("the cat sat", math.nan, 2**70, True, None, image)
    table.add_data("ünïcode", -math.inf, np.int64(3), False, np.float32(0.5), image)
    encoded = table.encode()
    check_addresses(encoded)
    assert encoded.kind == "table"
    assert encoded.fields["columns"] == ["text", "score", "big", "ok", "none", "picture"]
    assert encoded.fields["nrows"] == 2
    assert len(encoded.files) == 2  # the same image twice is stored once
    columns, rows = decode_table(encoded.files[0].data)
    assert columns == encoded.fields["columns"]
    assert rows[0][0] == "the cat sat" and math.isnan(rows[0][1]) and rows[0][2:5] == [2**70, True, None]
    assert rows[1][:5] == ["ünïcode", -math.inf, 3, False, 0.5]
    cell = rows[0][5]["$m"]
    assert cell == {"kind": "image", **image.encode().fields}
    assert cell["file"] == encoded.files[1].name
    assert np.array_equal(decode_png(pil, EncodedMedia("image", cell, (encoded.files[1],))),
                          np.full((2, 3, 3), 7, dtype=np.uint8))


def test_table_rows_and_columns(np):
    table = Table(columns=["x", "y"], data=[(1, "a"), [2, "b"]])
    table.add_data(3, "c")
    assert table.get_column("x") == [1, 2, 3]
    assert table.get_column("y") == ["a", "b", "c"]
    assert len(table) == 3 and table.columns == ["x", "y"]
    assert Table(columns=["p", "q"], data=np.arange(4).reshape(2, 2)).data == [[0, 1], [2, 3]]


def test_table_from_pandas_dataframe():
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"a": [1, 2], "b": pandas.Series(["x", None], dtype=object)})  # pandas 3: str -> NaN
    for table in (Table(dataframe=frame), Table(data=frame)):
        assert decode_table(table.encode().files[0].data) == (["a", "b"], [[1, "x"], [2, None]])


def test_histogram_counts_equal_numpy_and_non_finite_values_are_counted(np):
    values = np.random.default_rng(4).normal(size=1000)
    mixed = np.concatenate([values, [np.nan, np.nan, np.inf, -np.inf, np.inf]])
    encoded = Histogram(mixed, num_bins=32).encode()
    counts, edges = np.histogram(values, bins=32)
    assert encoded.kind == "histogram" and encoded.files == ()
    assert encoded.fields["values"] == counts.tolist()
    assert encoded.fields["bins"] == edges.tolist()
    assert (encoded.fields["nan_count"], encoded.fields["inf_count"]) == (2, 3)


def test_histogram_of_only_non_finite_values_is_empty_with_counts(np):
    fields = Histogram([math.nan, math.inf]).encode().fields
    assert fields == {"bins": [], "values": [], "nan_count": 1, "inf_count": 1}


def test_histogram_from_precomputed_counts_and_from_a_tensor(np):
    fields = Histogram(np_histogram=np.histogram([1, 2, 2, 3], bins=3)).encode().fields
    assert fields["values"] == [1, 2, 1] and len(fields["bins"]) == 4
    torch = pytest.importorskip("torch")
    tensor = torch.arange(10, dtype=torch.float32)
    assert Histogram(tensor, num_bins=5).encode().fields["values"] == [2, 2, 2, 2, 2]


@pytest.mark.parametrize("channels", [1, 2])
def test_audio_wav_reads_back_as_the_int16_samples(np, channels):
    rng = np.random.default_rng(5)
    floats = rng.uniform(-1, 1, size=(400, channels) if channels > 1 else 400)
    for data, expected in ((floats, np.rint(floats * 32767).astype(np.int16)),
                           ((floats * 1000).astype(np.int16), (floats * 1000).astype(np.int16))):
        encoded = Audio(data, sample_rate=16000, caption="speech").encode()
        check_addresses(encoded)
        with wave.open(io.BytesIO(encoded.files[0].data)) as reader:
            assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (channels, 2, 16000)
            samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
        assert np.array_equal(samples, expected.ravel())
        assert encoded.fields == {**encoded.fields, "sample_rate": 16000, "channels": channels, "duration": 0.025,
                                  "caption": "speech"}


@pytest.mark.parametrize(("shape", "channels_first"), [((5, 6, 8, 3), False), ((5, 3, 6, 8), True),
                                                        ((5, 6, 8), False), ((5, 6, 8, 4), False)])
def test_video_gif_has_every_frame(np, pil, shape, channels_first):
    frames = np.random.default_rng(6).integers(0, 256, size=shape, dtype=np.uint8)
    encoded = Video(frames, fps=8, caption="rollout").encode()
    check_addresses(encoded)
    assert encoded.files[0].extension == "gif"
    with pil.open(io.BytesIO(encoded.files[0].data)) as gif:
        assert gif.format == "GIF" and gif.n_frames == 5 and gif.size == (8, 6)
        assert gif.info["duration"] == 120  # 1000 / 8 ms, rounded to the 1/100 s a GIF delay holds
    assert {k: encoded.fields[k] for k in ("fps", "frames", "width", "height", "format")} == {
        "fps": 8, "frames": 5, "width": 8, "height": 6, "format": "gif"}


def test_gray_video_frames_are_kept_exactly(np, pil):
    frames = np.stack([np.full((4, 4), value, dtype=np.uint8) for value in (0, 100, 200)])
    with pil.open(io.BytesIO(Video(frames).encode().files[0].data)) as gif:
        for index, value in enumerate((0, 100, 200)):
            gif.seek(index)
            assert np.array_equal(np.asarray(gif.convert("L")), np.full((4, 4), value))


def test_plot_json_round_trips_spec_and_data():
    spec = {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "title": "PR curve", "mark": "line",
            "encoding": {"x": {"field": "recall"}, "y": {"field": "precision"}}}
    rows = [{"recall": 0.0, "precision": 1.0}, {"recall": 1.0, "precision": math.nan}]
    import json

    for given in (spec, json.dumps(spec)):
        encoded = Plot(given, data=rows).encode()
        check_addresses(encoded)
        assert encoded.kind == "plot" and encoded.fields["title"] == "PR curve" and encoded.fields["nrows"] == 2
        back_spec, back_rows = decode_plot(encoded.files[0].data)
        assert back_spec == spec
        assert back_rows[0] == rows[0] and math.isnan(back_rows[1]["precision"])
    assert Plot(spec).encode().fields["nrows"] == 0


def test_every_media_kind_is_a_media_value(np):
    values = [Image(np.zeros((2, 2), np.uint8)), Table(["a"]), Histogram([1.0]), Audio(np.zeros(2), 8000),
              Video(np.zeros((1, 2, 2), np.uint8)), Plot({})]
    assert {value.encode().kind for value in values if isinstance(value, Media)} == {
        "image", "table", "histogram", "audio", "video", "plot"}


def test_audio_and_video_files_are_stored_as_they_are(tmp_path):
    """W&B takes file paths for Audio and Video; the bytes are kept, a WAV header gives its numbers."""
    wav = tmp_path / "speech.wav"
    with wave.open(str(wav), "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(b"\x01\x00\x02\x00" * 4000)
    encoded = Audio(str(wav), caption="speech").encode()
    check_addresses(encoded)
    assert encoded.files[0].data == wav.read_bytes() and encoded.files[0].extension == "wav"
    assert (encoded.fields["sample_rate"], encoded.fields["channels"], encoded.fields["duration"]) == (8000, 2, 0.5)
    mp3 = tmp_path / "clip.MP3"
    mp3.write_bytes(b"ID3 not really decoded")
    encoded = Audio(mp3).encode()
    assert encoded.files[0].extension == "mp3" and encoded.fields["duration"] is None
    mp4 = tmp_path / "rollout.mp4"
    mp4.write_bytes(b"\x00\x00\x00\x18ftypmp42 bytes")
    encoded = Video(str(mp4), fps=30, format="mp4", caption="rollout").encode()
    check_addresses(encoded)
    assert encoded.files[0].data == mp4.read_bytes()
    assert (encoded.fields["format"], encoded.fields["fps"], encoded.fields["caption"]) == ("mp4", 30, "rollout")


@pytest.mark.parametrize(("make", "given"), [
    (lambda p: Audio(str(p / "missing.wav")), "could not be read"),
    (lambda p: Audio(str(p / "notes.txt")), "notes.txt"),
    (lambda p: Video(str(p / "missing.mp4")), "could not be read"),
    (lambda p: Audio([0.1, 0.2]), "sample_rate"),
])
def test_bad_media_files_raise_media_error(tmp_path, make, given):
    (tmp_path / "notes.txt").write_text("x")
    value = make(tmp_path)
    with pytest.raises(MediaError, match=given):
        value.validate()

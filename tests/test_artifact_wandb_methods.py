"""W&B's Artifact methods on real runs: add (media), new_file, add_reference, wait, files, download, get, get_entry."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

import tracker_core
from tracker_core import ArtifactError, TrackerWarning

np = pytest.importorskip("numpy")
PILImage = pytest.importorskip("PIL.Image")


def _pixels(seed: int) -> object:
    return np.random.default_rng(seed).integers(0, 256, (4, 5, 3), dtype=np.uint8)


def test_a_table_added_to_an_artifact_is_stored_as_wandb_names_it_and_read_back_with_get() -> None:
    table = tracker_core.Table(columns=["id", "image", "score"])
    for i in range(3):
        table.add_data(i, tracker_core.Image(_pixels(i), caption=f"c{i}"), i / 10)
    artifact = tracker_core.Artifact("preds", "predictions")
    entry = artifact.add(table, "val/predictions")
    assert entry.path == "val/predictions.table.json"
    with tracker_core.init(project="arts") as run:
        run.log_artifact(artifact)
    assert artifact.wait() is artifact and artifact.version == 0
    paths = sorted(f["path"] for f in artifact.files())
    assert "val/predictions.table.json" in paths and sum(p.endswith(".png") for p in paths) == 3
    assert all(p.startswith("val/") for p in paths)  # cell files beside the table

    with tracker_core.init(project="arts") as reader:
        used = reader.use_artifact("preds:latest")
        back = used.get("val/predictions")
    assert back.columns == ["id", "image", "score"] and [r[0] for r in back.data] == [0, 1, 2]
    cell = back.data[2][1]
    assert cell.fields["caption"] == "c2"
    assert (np.asarray(PILImage.open(cell.path)) == _pixels(2)).all()
    assert used.get("val/predictions.table.json").columns == back.columns  # with or without the suffix
    assert used.get("nothing") is None

    with tracker_core.init(project="arts") as again:  # what get() returns logs again, byte for byte
        again.log({"relogged": back})
    ref = tracker_core.Api().run(again.path).history()[0]["relogged"]
    assert ref.rows()[2][1].read_bytes() == cell.read_bytes()


def test_an_image_with_masks_added_to_an_artifact_comes_back_with_its_mask_file() -> None:
    mask = np.zeros((4, 5), dtype=np.uint8)
    mask[2:] = 1
    image = tracker_core.Image(_pixels(7), masks={"pred": {"mask_data": mask, "class_labels": {0: "bg", 1: "fg"}}})
    artifact = tracker_core.Artifact("seg", "dataset")
    assert artifact.add(image, "sample").path == "sample.image-file.json"
    with tracker_core.init(project="arts") as run:
        run.log_artifact(artifact)
    record = orjson.loads(Path(artifact.get_entry("sample").download()).read_bytes())
    assert record["kind"] == "image" and record["masks"]["pred"]["class_labels"] == {"0": "bg", "1": "fg"}
    back = artifact.get("sample")
    assert back.stored_kind == "image" and back.encode().files[1].name == record["masks"]["pred"]["file"]
    folder = artifact.download()
    assert (np.asarray(PILImage.open(os.path.join(folder, record["masks"]["pred"]["file"]))) == mask).all()


def test_a_bad_image_cell_costs_its_cell_in_an_artifact_table_too() -> None:
    table = tracker_core.Table(columns=["image"], data=[[tracker_core.Image(_pixels(1))],
                                                        [tracker_core.Image(np.full((2, 2), np.nan))]])
    artifact = tracker_core.Artifact("t", "dataset")
    with pytest.warns(TrackerWarning, match=r"(?s)t/rows.table.json, row 1, column 'image'.*null.*NaN"):
        artifact.add(table, "rows")
    with tracker_core.init(project="arts") as run:
        run.log_artifact(artifact)
    rows = artifact.get("rows").data
    assert rows[0][0].stored_kind == "image" and rows[1][0] is None


def test_new_file_writes_a_file_into_the_artifact_when_the_block_ends() -> None:
    artifact = tracker_core.Artifact("notes", "text")
    with artifact.new_file("docs/readme.txt") as handle:
        handle.write("hello")
    with artifact.new_file("blob.bin", mode="wb") as handle:
        handle.write(b"\x00\x01")
    with pytest.raises(ArtifactError, match="already in the artifact"), artifact.new_file("docs/readme.txt"):
        pass
    with artifact.new_file("docs/readme.txt", mode="w") as handle:
        handle.write("hello again")
    with tracker_core.init(project="arts") as run:
        run.log_artifact(artifact)
    folder = Path(artifact.download())
    assert (folder / "docs/readme.txt").read_text() == "hello again"
    assert (folder / "blob.bin").read_bytes() == b"\x00\x01"
    with pytest.raises(ArtifactError, match="already logged"):
        artifact.add_file(str(folder / "blob.bin"))


def test_file_references_are_hashed_not_stored_and_other_schemes_are_kept_as_uris(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.csv").write_text("x,y\n1,2\n")
    (data / "sub" / "b.csv").write_text("x\n3\n")
    artifact = tracker_core.Artifact("refs", "dataset")
    one = artifact.add_reference(f"file://{data / 'a.csv'}")
    folder_entries = artifact.add_reference(f"file://{data}", name="all")
    remote = artifact.add_reference("s3://bucket/path/train.parquet")
    with pytest.raises(ArtifactError, match="references must be URIs"):
        artifact.add_reference(str(data / "a.csv"))
    import hashlib

    assert one[0].path == "a.csv" and one[0].sha256 == hashlib.sha256(b"x,y\n1,2\n").hexdigest() and one[0].size == 8
    assert sorted(e.path for e in folder_entries) == ["all/a.csv", "all/sub/b.csv"]
    assert remote[0].path == "train.parquet" and remote[0].sha256 is None and remote[0].ref.startswith("s3://")
    with tracker_core.init(project="arts") as run:
        run.log_artifact(artifact)
    blobs = [p for p in (Path(os.environ["TRACKER_DIR"]) / "artifacts" / "blobs").rglob("*") if p.is_file()]
    assert blobs == []  # references store no content
    manifest = {f["path"]: f for f in artifact.files()}
    assert manifest["train.parquet"] == {"path": "train.parquet", "ref": "s3://bucket/path/train.parquet",
                                         "sha256": None, "size": None}
    with pytest.raises(ArtifactError, match="never stored"):
        artifact.download()
    target = Path(artifact.download(tmp_path / "out", allow_missing_references=True))
    assert (target / "all/sub/b.csv").read_text() == "x\n3\n" and not (target / "train.parquet").exists()
    (data / "a.csv").write_text("changed")
    with pytest.raises(ArtifactError, match="no longer has sha256"):
        artifact.get_entry("a.csv").download(tmp_path / "out2")


def test_reading_an_artifact_before_it_is_logged_says_so_and_get_entry_is_a_key_error() -> None:
    artifact = tracker_core.Artifact("draft", "dataset")
    for call in (artifact.wait, artifact.files, artifact.download, lambda: artifact.get("x"),
                 lambda: artifact.get_entry("x")):
        with pytest.raises(ArtifactError, match="not logged yet"):
            call()
    with artifact.new_file("x.txt") as handle:
        handle.write("x")
    with tracker_core.init(project="arts") as run:
        run.log_artifact(artifact)
    with pytest.raises(KeyError, match=r"no entry 'y\.txt'"):
        artifact.get_entry("y.txt")
    with pytest.raises(ArtifactError, match="cannot add a dict"):
        tracker_core.Artifact("other", "dataset").add({"a": 1}, "a")


def test_a_changed_reference_uri_makes_a_new_version_and_gc_keeps_working(tmp_path: Path) -> None:
    from tracker_core.artifacts import ArtifactStore

    versions = []
    for uri in ("s3://bucket/a.bin", "s3://bucket/a.bin", "s3://bucket/b.bin"):
        artifact = tracker_core.Artifact("remote", "dataset")
        artifact.add_reference(uri, name="data.bin", checksum=False)
        with tracker_core.init(project="arts") as run:
            run.log_artifact(artifact)
        versions.append(artifact.version)
    assert versions == [0, 0, 1]  # the same URI is the same content; another URI is a new version
    store = ArtifactStore(os.environ["TRACKER_DIR"])
    assert store.gc() == (0, 0)
    assert [f["ref"] for f in store.files(store.resolve("remote:v0"))] == ["s3://bucket/a.bin"]

"""The artifact store on real files: versions, aliases, dedup, digest cache, verified downloads, gc, lineage."""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from tracker_core.artifacts import Artifact, ArtifactError, ArtifactStore, ArtifactVersion

OLD = time.time() - 3600  # source files older than the digest cache's "racily clean" window


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (OLD, OLD))
    return path


def commit_file(store: ArtifactStore, source: Path, name: str = "data", inside: str = "data.bin",
                created_by: str | None = None, aliases: Sequence[str] = ()) -> ArtifactVersion:
    artifact = Artifact(name, "dataset")
    artifact.add_file(source, name=inside)
    return store.commit(artifact, created_by=created_by, aliases=aliases)


def blob_files(root: Path) -> list[Path]:
    return [p for p in (root / "artifacts" / "blobs").rglob("*") if p.is_file()]


def test_versions_count_up_and_recommitting_the_latest_adds_none(store: Path, tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(store))
    first = commit_file(artifacts, write(tmp_path / "a", b"one"))
    again = commit_file(artifacts, write(tmp_path / "b", b"one"), aliases=["best"])
    second = commit_file(artifacts, write(tmp_path / "c", b"two"))
    back = commit_file(artifacts, write(tmp_path / "d", b"one"))
    assert (first.version, again.version, second.version, back.version) == (0, 0, 1, 2)
    assert again.digest == first.digest == back.digest and "best" in again.aliases
    assert [v.ref for v in artifacts.versions("data")] == ["data:v0", "data:v1", "data:v2"]
    assert (first.size, first.file_count) == (3, 1)


def test_aliases_are_unique_per_name_and_latest_follows_the_newest(store: Path, tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(store))
    commit_file(artifacts, write(tmp_path / "a", b"one"), aliases=["best", "prod"])
    commit_file(artifacts, write(tmp_path / "b", b"two"), aliases=["best"])
    v0, v1 = artifacts.versions("data")
    assert v0.aliases == ("prod",)
    assert v1.aliases == ("latest", "best")
    assert artifacts.resolve("data:best").version == 1
    assert artifacts.resolve("data").version == artifacts.resolve("data:latest").version == 1
    assert artifacts.resolve("data:prod").version == 0


def test_resolve_errors_list_what_exists(store: Path, tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(store))
    commit_file(artifacts, write(tmp_path / "a", b"one"), aliases=["best"])
    with pytest.raises(ArtifactError, match=r"(?s)data:v7 does not exist.*Hint: .*v0.*latest, best"):
        artifacts.resolve("data:v7")
    with pytest.raises(ArtifactError, match=r"(?s)no artifact named 'model'.*known artifacts: data"):
        artifacts.resolve("model:latest")
    with pytest.raises(ArtifactError, match="reads as a version number"):
        commit_file(artifacts, tmp_path / "a", aliases=["v3"])


def test_same_content_is_stored_once_by_hard_linking_the_source(store: Path, tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(store), link="hardlink")
    source = write(tmp_path / "ckpt.pt", os.urandom(100_000))
    twin = write(tmp_path / "other" / "copy.pt", source.read_bytes())
    commit_file(artifacts, source, name="model", inside="a.pt")
    commit_file(artifacts, twin, name="model", inside="b.pt")
    commit_file(artifacts, source, name="backup")
    (blob,) = blob_files(store)
    assert os.stat(blob).st_ino == os.stat(source).st_ino and os.stat(blob).st_nlink == 2
    assert sum(p.stat().st_size for p in blob_files(store)) == 100_000
    assert os.stat(source).st_mode & 0o222 == 0, "a hard-linked blob is protected from in-place rewrites"
    assert os.stat(twin).st_mode & 0o222 != 0, "a file whose content was already stored is left alone"


def test_the_default_mode_never_shares_the_users_inode(store: Path, tmp_path: Path) -> None:
    source = write(tmp_path / "ckpt.pt", b"weights" * 1000)
    mode = os.stat(source).st_mode
    commit_file(ArtifactStore(str(store), link="auto"), source)
    (blob,) = blob_files(store)
    assert os.stat(blob).st_ino != os.stat(source).st_ino
    assert os.stat(source).st_mode == mode and os.stat(blob).st_mode & 0o777 == 0o444


def test_digest_cache_rehashes_only_changed_files(store: Path, tmp_path: Path) -> None:
    for i in range(5):
        write(tmp_path / "data" / f"part{i}.bin", bytes([i]) * 10_000)
    artifact = Artifact("corpus", "dataset")
    artifact.add_dir(tmp_path / "data")
    first = ArtifactStore(str(store))
    first.commit(artifact)
    assert first.hashed_bytes == 50_000
    write(tmp_path / "data" / "part3.bin", b"changed")
    artifact = Artifact("corpus", "dataset")
    artifact.add_dir(tmp_path / "data")
    second = ArtifactStore(str(store))
    version = second.commit(artifact)
    assert second.hashed_bytes == len(b"changed")
    assert version.version == 1 and version.size == 40_000 + 7


def test_download_verifies_then_skips_verified_unchanged_files(store: Path, tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(store))
    write(tmp_path / "src" / "x.txt", b"x" * 5000)
    write(tmp_path / "src" / "deep" / "y.txt", b"y" * 3000)
    artifact = Artifact("corpus", "dataset")
    artifact.add_dir(tmp_path / "src", name="inputs")
    version = artifacts.commit(artifact)
    before = artifacts.hashed_bytes
    path = Path(artifacts.download(version))
    assert path == store / "artifacts" / "downloads" / "corpus" / "v0"
    assert (path / "inputs" / "deep" / "y.txt").read_bytes() == b"y" * 3000
    assert artifacts.hashed_bytes - before == 8000, "every file is verified"
    assert artifacts.download(version) == str(path)
    assert artifacts.hashed_bytes - before == 8000, "an unchanged, verified download is not re-hashed"
    assert [f["path"] for f in artifacts.files(version)] == ["inputs/deep/y.txt", "inputs/x.txt"]


def test_a_modified_download_is_restored(store: Path, tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(store), link="auto")
    version = commit_file(artifacts, write(tmp_path / "a", b"original"))
    target = Path(artifacts.download(version, tmp_path / "out"))
    (target / "data.bin").chmod(0o644)
    (target / "data.bin").write_bytes(b"edited!!")
    artifacts.download(version, tmp_path / "out")
    assert (target / "data.bin").read_bytes() == b"original"


def test_corrupted_blob_fails_the_download_naming_the_file(store: Path, tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(store), link="auto")
    version = commit_file(artifacts, write(tmp_path / "a", b"good content"), inside="weights/model.pt")
    (blob,) = blob_files(store)
    blob.chmod(0o644)
    blob.write_bytes(b"bad content!")
    with pytest.raises(ArtifactError, match=r"(?s)'weights/model.pt' is corrupted.*Hint:"):
        artifacts.download(version, tmp_path / "out")
    assert not (tmp_path / "out" / "weights" / "model.pt").exists()
    assert list((tmp_path / "out" / "weights").iterdir()) == [], "no partial file is left behind"


def test_missing_blob_fails_the_download(store: Path, tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(store))
    version = commit_file(artifacts, write(tmp_path / "a", b"content"))
    blob_files(store)[0].unlink()
    with pytest.raises(ArtifactError, match=r"'data\.bin' is missing from the store"):
        artifacts.download(version)


@pytest.mark.parametrize("inside", ["../escape", "a/../../escape", "/etc/passwd", "a//b", "C:/x", "a\\..\\..\\b", ""])
def test_traversing_paths_inside_an_artifact_are_refused(tmp_path: Path, inside: str) -> None:
    artifact = Artifact("data", "dataset")
    with pytest.raises(ArtifactError, match="Hint:"):
        artifact.add_file(write(tmp_path / "a", b"x"), name=inside)


@pytest.mark.parametrize("name", ["../evil", "a/b", ".hidden", "", "x" * 129, "name:v1", "with space"])
def test_bad_artifact_names_are_refused(store: Path, name: str) -> None:
    with pytest.raises(ArtifactError, match="invalid artifact name"):
        Artifact(name, "dataset")
    with pytest.raises(ArtifactError):
        ArtifactStore(str(store)).resolve(f"{name}:latest")


def test_a_link_to_a_file_outside_is_stored_as_content_and_downloaded_as_a_file(store: Path, tmp_path: Path) -> None:
    outside = write(tmp_path / "outside.txt", b"secret-ish")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "link.txt").symlink_to(outside)
    artifact = Artifact("data", "dataset")
    artifact.add_dir(tmp_path / "dir")
    artifacts = ArtifactStore(str(store))
    target = Path(artifacts.download(artifacts.commit(artifact), tmp_path / "out"))
    assert not (target / "link.txt").is_symlink() and (target / "link.txt").read_bytes() == b"secret-ish"


def test_download_never_writes_through_a_link_in_the_target(store: Path, tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(store))
    version = commit_file(artifacts, write(tmp_path / "a", b"payload"), inside="sub/file.txt")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sub").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ArtifactError, match="is a link"):
        artifacts.download(version, tmp_path / "out")
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_tampered_manifest_is_refused(store: Path, tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(store))
    version = commit_file(artifacts, write(tmp_path / "a", b"x"))
    manifest = store / "artifacts" / "manifests" / f"{version.digest}.json"
    manifest.write_text(manifest.read_text().replace('"data.bin"', '"../../evil"'))
    with pytest.raises(ArtifactError, match="invalid path"):
        artifacts.download(version, tmp_path / "out")


def test_concurrent_commits_from_two_processes_get_distinct_versions(store: Path, tmp_path: Path, python: str) -> None:
    script = tmp_path / "commit.py"
    script.write_text(textwrap.dedent("""
        import sys
        from pathlib import Path
        from tracker_core.artifacts import Artifact, ArtifactStore
        root, tag, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
        store = ArtifactStore(root)
        for i in range(5):
            source = work / f"{tag}-{i}.bin"
            source.write_bytes(f"{tag}-{i}".encode() * 1000)
            artifact = Artifact("shared", "dataset")
            artifact.add_file(source, name="data.bin")
            store.commit(artifact, created_by=f"p/{tag}")
    """))
    children = [subprocess.Popen([python, str(script), str(store), tag, str(tmp_path)], stderr=subprocess.PIPE)
                for tag in ("left", "right")]
    for child in children:
        _, err = child.communicate(timeout=60)
        assert child.returncode == 0, err.decode()
    artifacts = ArtifactStore(str(store))
    versions = artifacts.versions("shared")
    assert [v.version for v in versions] == list(range(10))
    assert len({v.digest for v in versions}) == 10
    assert sorted(v.created_by or "" for v in versions) == ["p/left"] * 5 + ["p/right"] * 5
    assert all(len(artifacts.files(v)) == 1 for v in versions)


def test_delete_is_refused_while_an_alias_points_at_the_version(store: Path, tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(store))
    commit_file(artifacts, write(tmp_path / "a", b"one"), aliases=["prod"])
    commit_file(artifacts, write(tmp_path / "b", b"two"))
    with pytest.raises(ArtifactError, match=r"(?s)data:v0 is still aliased as prod.*Hint: .*force"):
        artifacts.delete("data:v0")
    artifacts.delete("data:latest")
    assert artifacts.resolve("data:latest").version == 0, "latest moves back to the newest remaining"
    artifacts.delete("data:prod", force=True)
    assert artifacts.versions("data") == [] and artifacts.names() == []
    assert commit_file(artifacts, tmp_path / "a").version == 2, "version numbers are never reused"


def test_gc_removes_exactly_the_unreferenced_blobs(store: Path, tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(store), link="auto")
    shared, old, new = (write(tmp_path / n, n.encode() * 1000) for n in ("shared", "old", "new"))
    for extra in (old, new):
        artifact = Artifact("data", "dataset")
        artifact.add_file(shared)
        artifact.add_file(extra, name="extra")
        artifacts.commit(artifact)
    v0, v1 = artifacts.versions("data")
    artifacts.delete("data:v0")
    assert artifacts.gc() == (1, len(b"old") * 1000)
    assert len(blob_files(store)) == 2
    assert not (store / "artifacts" / "manifests" / f"{v0.digest}.json").exists()
    assert (Path(artifacts.download(v1)) / "extra").read_bytes() == new.read_bytes()
    assert artifacts.gc() == (0, 0)


def test_lineage_edges_point_at_digests_across_names(store: Path, tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(store))
    source = write(tmp_path / "a", b"tokens")
    version = commit_file(artifacts, source, created_by="p/prep")
    artifacts.record_use(version, "p/train")
    again = artifacts.record_use(version, "p/train")
    assert again.used_by == ("p/train",)
    mirror = commit_file(artifacts, source, name="mirror", created_by="p/copy")
    artifacts.record_use(mirror, "p/finetune")
    assert mirror.digest == version.digest
    assert artifacts.producers_and_consumers(version.digest) == ("p/prep", ("p/train", "p/finetune"))
    assert artifacts.producers_and_consumers("0" * 64) == (None, ())


def test_a_name_keeps_its_type(store: Path, tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(store))
    commit_file(artifacts, write(tmp_path / "a", b"x"))
    artifact = Artifact("data", "model")
    artifact.add_file(tmp_path / "a")
    with pytest.raises(ArtifactError, match="has type 'dataset', not 'model'"):
        artifacts.commit(artifact)

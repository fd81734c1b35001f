"""``ArtifactStore``: commit, resolve, download, delete and collect artifact versions under a store root.

Layout under ``<root>/artifacts/``::

    blobs/<sha[:2]>/<sha256>          each content once, read-only (see _blobs for link vs copy)
    manifests/<digest>.json           {"files": [{"path", "sha256", "size"}, ...]} sorted by path
    names/<name>/registry.json        type, versions, aliases, producer, consumers (see _registry)
    names/<name>/.lock                one writer of a registry at a time
    digest-cache.json                 path + size + mtime_ns + inode -> sha256 (see _hashing)
    downloads/<name>/v<N>/            the default download target; .markers/ remembers verified files
    .gc.lock                          shared while committing, exclusive while collecting

A commit stores blobs, then the manifest, then (under the name's lock) the registry entry, so a
crash leaves at worst unreferenced blobs for ``gc``. Runs are opaque strings ("project/run_id").
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from typing import Any

from tracker_core.artifacts._artifact import Artifact
from tracker_core.artifacts._blobs import BlobStore
from tracker_core.artifacts._download import fetch_reference, materialise
from tracker_core.artifacts._errors import ArtifactError
from tracker_core.artifacts._hashing import DigestCache
from tracker_core.artifacts._manifest import ManifestStore, check_layout
from tracker_core.artifacts._names import parse_ref, validate_alias, validate_name, version_number
from tracker_core.artifacts._progress import Progress
from tracker_core.artifacts._registry import ArtifactVersion, Registry, file_lock, to_version

__all__ = ["ArtifactStore"]


def _find(data: dict[str, Any], number: int) -> dict[str, Any] | None:
    return next((entry for entry in data["versions"] if entry["version"] == number), None)


class ArtifactStore:
    """The artifacts of one tracker store root.

    ``link`` is "auto" (reflink, else copy; the user's files are never touched) or "hardlink"
    (reflink, else a hard link that makes the user's file read-only, else copy); see ``_blobs``.
    ``hashed_bytes`` counts the bytes this object hashed.
    """

    def __init__(self, root: str | os.PathLike[str], *, link: str = "auto") -> None:
        if link not in ("auto", "hardlink"):
            raise ArtifactError(f"invalid link mode {link!r}", "use 'auto' or 'hardlink'")
        self.root = os.path.join(os.fspath(root), "artifacts")
        self._blobs = BlobStore(os.path.join(self.root, "blobs"), link)
        self._manifests = ManifestStore(os.path.join(self.root, "manifests"))
        self._names = os.path.join(self.root, "names")
        self._cache = DigestCache(os.path.join(self.root, "digest-cache.json"))
        self._gc_lock = os.path.join(self.root, ".gc.lock")
        self.hashed_bytes = 0

    def _count(self, count: int) -> None:
        self.hashed_bytes += count

    def _registry(self, name: str) -> Registry:
        return Registry(self._names, validate_name(name))

    def _store_files(self, artifact: Artifact, progress: bool | None) -> list[dict[str, Any]]:
        started = time.time_ns()
        stats = []
        for path, source in artifact.sources():
            try:
                stats.append((path, source, os.stat(source)))
            except OSError as error:
                raise ArtifactError(f"cannot read {source!r} (added as {path!r}): {error.strerror}",
                                    "keep the files in place until the artifact is logged") from None
        bar = Progress(progress, sum(st.st_size for _, _, st in stats), f"{artifact.name}: storing")

        def counted(count: int) -> None:
            self._count(count)
            bar.update(count)

        files = []
        try:
            for path, source, st in stats:
                sha = self._cache.lookup(source, st)
                if sha is not None and self._blobs.has(sha):
                    size = st.st_size
                    bar.update(size)
                else:
                    sha, size = self._blobs.ingest(source, st, counted)
                    after = os.stat(source)
                    if (after.st_size, after.st_mtime_ns, after.st_ino) == (size, st.st_mtime_ns, st.st_ino):
                        self._cache.remember(source, st, sha, started)
                files.append({"path": path, "sha256": sha, "size": size})
        finally:
            bar.close()
            self._cache.save()
        return files

    def commit(self, artifact: Artifact, created_by: str | None = None, aliases: Sequence[str] = (),
               progress: bool | None = None) -> ArtifactVersion:
        """Store ``artifact``'s files and register a new version (none if the content equals the latest's).

        ``aliases`` move to the committed version ("latest" moves by itself).

        Raises:
            ArtifactError: a bad alias, a type other than the name's, an unreadable source, a path clash.
            OSError: the store cannot be written (a full disk, say).
        """
        if not isinstance(artifact, Artifact):
            raise ArtifactError(f"expected an Artifact, got {type(artifact).__name__}",
                                "build one with Artifact(name, type)")
        if isinstance(aliases, str):
            raise ArtifactError(f"aliases must be a list of strings, not the string {aliases!r}", f"pass [{aliases!r}]")
        wanted = [validate_alias(alias) for alias in aliases if alias != "latest"]
        check_layout([path for path, _ in artifact.sources()] + [entry["path"] for entry in artifact.references()])
        registry = self._registry(artifact.name)
        os.makedirs(self.root, exist_ok=True)
        with file_lock(self._gc_lock, exclusive=False):
            digest = self._manifests.write(self._store_files(artifact, progress) + artifact.references())
            with registry.edit() as data:
                if data["type"] not in (None, artifact.type):
                    raise ArtifactError(f"{artifact.name!r} has type {data['type']!r}, not {artifact.type!r}",
                                        f"use type={data['type']!r}, or another name")
                data["type"] = artifact.type
                entry = data["versions"][-1] if data["versions"] else None
                if entry is None or entry["digest"] != digest:
                    files = self._manifests.read(digest)
                    entry = {"version": data["next_version"], "digest": digest, "created_at": time.time(),
                             "created_by": created_by, "used_by": [], "description": artifact.description,
                             "metadata": artifact.metadata, "size": sum(f["size"] or 0 for f in files),
                             "file_count": len(files)}
                    data["versions"].append(entry)
                    data["next_version"] += 1
                for alias in wanted:
                    data["aliases"][alias] = entry["version"]
                version = to_version(data, entry)
        artifact._bind(self, version)  # the user's object now reads this version (wait, files, get, ...)
        return version

    def resolve(self, ref: str) -> ArtifactVersion:
        """The version ``ref`` names: "name" (latest), "name:latest", "name:v3" or "name:<alias>".

        Raises:
            ArtifactError: a malformed reference, or no such name, version or alias (listing what exists).
        """
        name, selector = parse_ref(ref)
        data = self._registry(name).read()
        if not data or not data["versions"]:
            raise ArtifactError(f"no artifact named {name!r}", f"known artifacts: {', '.join(self.names()) or 'none'}")
        number = version_number(selector)
        if selector == "latest":
            number = data["versions"][-1]["version"]
        elif number is None:
            number = data["aliases"].get(selector)
        entry = _find(data, number) if number is not None else None
        if entry is None:
            versions = ", ".join(f"v{e['version']}" for e in data["versions"])
            aliases = ", ".join(["latest", *sorted(data["aliases"])])
            raise ArtifactError(f"{name}:{selector} does not exist",
                                f"{name} has versions {versions} and aliases {aliases}")
        return to_version(data, entry)

    def record_use(self, version: ArtifactVersion, used_by: str) -> ArtifactVersion:
        """Add ``used_by`` to the version's consumers (once). Raises ArtifactError if it was deleted."""
        if not isinstance(used_by, str) or not used_by:
            raise ArtifactError(f"invalid consumer {used_by!r}", "pass the run as 'project/run_id'")
        with self._registry(version.name).edit() as data:
            entry = _find(data, version.version)
            if entry is None or entry["digest"] != version.digest:
                raise ArtifactError(f"{version.ref} no longer exists", "resolve the artifact again")
            if used_by not in entry["used_by"]:
                entry["used_by"].append(used_by)
            return to_version(data, entry)

    def files(self, version: ArtifactVersion) -> list[dict[str, Any]]:
        """The manifest entries ({"path", "sha256", "size"}) of ``version``. Raises ArtifactError."""
        return self._manifests.read(version.digest)

    def download(self, version: ArtifactVersion, target: str | os.PathLike[str] | None = None,
                 progress: bool | None = None, paths: Sequence[str] | None = None,
                 allow_missing_references: bool = False) -> str:
        """Materialise ``version`` into ``target`` (default ``<root>/artifacts/downloads/<name>/v<N>``) and
        return its path. Every file's sha256 is verified; files verified before and unchanged are skipped.
        ``paths`` limits it to those entries. A ``file://`` reference is copied from its file, verified
        against the digest recorded when it was added; a reference with no content here (another scheme,
        or ``checksum=False``) cannot be downloaded: an error, unless ``allow_missing_references``.

        Raises:
            ArtifactError: a file is missing or corrupted in the store (named), a reference cannot be
                fetched or changed, or a file cannot be written inside target.
            OSError: the target cannot be written.
        """
        files = self.files(version)
        if paths is not None:
            files = [f for f in files if f["path"] in set(paths)]
        stored = [f for f in files if "ref" not in f]
        references = [f for f in files if "ref" in f]
        fetchable = [f for f in references if f["ref"].startswith("file://") and f["sha256"] is not None]
        missing = [f for f in references if f not in fetchable]
        if missing and not allow_missing_references:
            raise ArtifactError(f"{version.ref} has references whose content was never stored: "
                                f"{', '.join(f['ref'] for f in missing[:5])}",
                                "fetch them yourself (artifact.get_entry(name).ref), or pass "
                                "allow_missing_references=True to download the rest")
        if target is None:
            target = os.path.join(self.root, "downloads", version.name, f"v{version.version}")
        real = os.path.realpath(os.fspath(target))
        os.makedirs(real, exist_ok=True)
        marker = os.path.join(self.root, "downloads", ".markers", f"{hashlib.sha256(real.encode()).hexdigest()}.json")
        bar = Progress(progress, sum(f["size"] for f in stored), f"{version.ref}: downloading")
        materialise(self._blobs, stored, real, marker, version.digest, self._count, bar)
        for entry in fetchable:
            fetch_reference(entry, real, self._count)
        return real

    def names(self) -> list[str]:
        """Artifact names with at least one version, sorted."""
        try:
            candidates = sorted(os.listdir(self._names))
        except FileNotFoundError:
            return []
        return [name for name in candidates if (data := Registry(self._names, name).read()) and data["versions"]]

    def versions(self, name: str) -> list[ArtifactVersion]:
        """The versions of ``name``, oldest first; empty for an unknown name. Raises ArtifactError: a bad name."""
        data = self._registry(name).read()
        return [to_version(data, entry) for entry in data["versions"]] if data else []

    def delete(self, ref: str, force: bool = False) -> None:
        """Remove a version ("latest" then moves to the newest remaining); ``gc`` frees its files.

        Raises:
            ArtifactError: no such version, or an alias other than "latest" points at it and not ``force``.
        """
        version = self.resolve(ref)
        with self._registry(version.name).edit() as data:
            entry = _find(data, version.version)
            if entry is None:
                raise ArtifactError(f"{version.ref} no longer exists", "list versions with `tracker artifacts`")
            pinned = sorted(alias for alias, number in data["aliases"].items() if number == version.version)
            if pinned and not force:
                raise ArtifactError(f"{version.ref} is still aliased as {', '.join(pinned)}",
                                    "move the alias to another version first, or force the delete (--force)")
            for alias in pinned:
                del data["aliases"][alias]
            data["versions"].remove(entry)

    def gc(self) -> tuple[int, int]:
        """Remove manifests no version references and blobs no remaining manifest references.

        Returns (blobs removed, bytes freed); a blob still hard-linked elsewhere (the user's own file,
        a download) frees nothing and is not counted in the bytes.
        """
        os.makedirs(self.root, exist_ok=True)
        with file_lock(self._gc_lock, exclusive=True):
            referenced = {entry["digest"] for name in self._all_names()
                          for entry in (Registry(self._names, name).read() or {"versions": []})["versions"]}
            needed: set[str] = set()
            for digest in self._manifests.digests():
                if digest in referenced:
                    needed.update(f["sha256"] for f in self._manifests.read(digest))
                else:
                    self._manifests.remove(digest)
            removed = freed = 0
            for name, path in list(self._blobs.walk()):
                if name in needed:
                    continue
                st = os.lstat(path)
                os.unlink(path)
                removed += os.path.basename(os.path.dirname(path)) != "tmp"
                freed += st.st_size if st.st_nlink == 1 else 0
            return removed, freed

    def _all_names(self) -> list[str]:
        try:
            return os.listdir(self._names)
        except FileNotFoundError:
            return []

    def producers_and_consumers(self, digest: str) -> tuple[str | None, tuple[str, ...]]:
        """(the run that first created ``digest``, the runs that used it), across all names."""
        entries = sorted((entry for name in self._all_names()
                          for entry in (Registry(self._names, name).read() or {"versions": []})["versions"]
                          if entry["digest"] == digest), key=lambda entry: float(entry["created_at"]))
        producer = next((entry["created_by"] for entry in entries if entry.get("created_by")), None)
        consumers = dict.fromkeys(run for entry in entries for run in entry.get("used_by", ()))
        return producer, tuple(consumers)

"""Artifacts: committing a 1 GiB directory of which 99 % is unchanged since the previous version,
and downloading a version that is already materialised.

Issue "Rich media and versioned artifacts": the second version must store and hash only what
changed (the digest cache), and a repeated download must be near-instant. The directory is made
of 256 random files of 4 MiB in a temporary folder on the same filesystem as the store; both are
deleted at the end. Reported: wall time, bytes hashed (``ArtifactStore.hashed_bytes``) and the
growth of the blob store on disk.

Run:  python benchmarks/bench_artifacts.py [--files 256] [--mib 4] [--link auto|hardlink]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

from _common import table

from tracker_core.artifacts import Artifact, ArtifactStore


def disk_bytes(folder: str) -> int:
    seen, total = set(), 0
    for parent, _, names in os.walk(folder):
        for name in names:
            st = os.stat(os.path.join(parent, name))
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_blocks * 512
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=256)
    parser.add_argument("--mib", type=int, default=4)
    parser.add_argument("--link", default="auto", choices=["auto", "hardlink"])
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="tracker-bench-artifacts-", dir=os.getcwd())
    try:
        data = os.path.join(work, "data")
        os.makedirs(data)
        for n in range(args.files):
            with open(os.path.join(data, f"shard-{n:04d}.bin"), "wb") as handle:
                handle.write(os.urandom(args.mib << 20))
        old = time.time() - 3600  # older than the digest cache's "racily clean" window
        for name in os.listdir(data):
            os.utime(os.path.join(data, name), (old, old))
        rows = []

        def commit(label: str) -> None:
            store = ArtifactStore(work, link=args.link)  # a fresh object: only what is on disk helps
            before = disk_bytes(os.path.join(work, "artifacts"))
            artifact = Artifact("corpus", type="dataset")
            artifact.add_dir(data)
            started = time.perf_counter()
            version = store.commit(artifact)
            elapsed = time.perf_counter() - started
            grown = disk_bytes(os.path.join(work, "artifacts")) - before
            rows.append([label, version.ref, f"{elapsed:.2f}", f"{store.hashed_bytes / 2**20:.0f}",
                         f"{grown / 2**20:.1f}"])

        total = args.files * args.mib
        commit(f"first commit, {total} MiB")
        commit("same directory again")
        changed = max(1, args.files // 100)
        for n in range(changed):
            with open(os.path.join(data, f"shard-{n:04d}.bin"), "r+b") as handle:
                handle.write(os.urandom(4096))
        commit(f"{changed} of {args.files} files changed")
        print(table(["commit", "version", "seconds", "MiB hashed", "MiB added to store"], rows))

        store = ArtifactStore(work, link=args.link)
        latest = store.resolve("corpus:latest")
        target = os.path.join(work, "download")
        timings = []
        for _ in range(3):
            fresh = ArtifactStore(work, link=args.link)
            started = time.perf_counter()
            fresh.download(latest, target)
            timings.append((time.perf_counter() - started, fresh.hashed_bytes))
        print(table(["download of " + latest.ref, "seconds", "MiB hashed"],
                    [[label, f"{t:.3f}", f"{h / 2**20:.0f}"] for label, (t, h) in
                     zip(["first (materialise + verify)", "again", "again"], timings, strict=True)]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

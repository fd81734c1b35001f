"""The content-addressed blob store: ``<root>/artifacts/blobs/<sha[:2]>/<sha256>``, each content once.

How a file enters the store, first that works. ``link="auto"`` (the default, as DVC's
"reflink,copy") uses 1 then 3; ``link="hardlink"`` (opt-in, ``TRACKER_ARTIFACT_LINK``) uses 1, 2, 3.

1. **reflink** (``ioctl FICLONE``; btrfs, XFS, bcachefs): a copy-on-write clone. No extra disk,
   and the user's file stays fully independent. Always safe.
2. **hard link** (same filesystem; opt-in): no extra disk, so a checkpoint logged as an artifact does not
   double its footprint. The blob *is* the user's inode, so it is protected: the write bits are
   removed from that inode (DVC's "protected" mode; other permission bits are kept, so a private
   file does not become readable by others). An in-place rewrite of the user's file then fails
   with PermissionError instead of silently rewriting history; replacing it by rename (the
   atomic-save pattern) is harmless and simply breaks the link. The link is kept only when the
   write bits could be removed and the file's size, mtime and inode did not change while it was
   hashed; otherwise the content is copied. What permissions cannot stop (root, a descriptor
   already open for writing) is caught at download, which verifies every digest.
3. **copy**, hashing while copying, fsynced before the rename.

Hard links are not the default because they make the user's file read-only: a training loop that
rewrites a logged checkpoint in place (``last.ckpt``) would then fail with PermissionError, and
logging must never kill training. Without reflink support the default therefore pays the disk.

Downloads follow the same mode: with "hardlink" they hard-link from the store (the files are
read-only; the blob and the download are one inode), with "auto" they reflink or copy.

**Running as root** (common in containers) ignores the missing write bits: an in-place rewrite of
a hard-linked file then changes the stored blob. Download verification reports it as corruption
naming the file; it cannot bring the old content back. Keep the default "auto" where files are
rewritten in place after being logged.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import sys
import uuid
from collections.abc import Callable, Iterator

from tracker_core.artifacts._hashing import CHUNK, hash_file

__all__ = ["BlobStore"]

_FICLONE = 0x40049409
OnBytes = Callable[[int], None]


def _copy_hashing(source: str, target: str, on_bytes: OnBytes) -> tuple[str, int]:
    """Copy ``source`` to the new file ``target`` while hashing it; fsync; keep the times. Raises OSError."""
    digest, total = hashlib.sha256(), 0
    with open(source, "rb", buffering=0) as src, open(target, "xb", buffering=0) as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            total += len(chunk)
            on_bytes(len(chunk))
        os.fsync(dst.fileno())
        times = os.fstat(src.fileno())
    os.utime(target, ns=(times.st_atime_ns, times.st_mtime_ns))
    return digest.hexdigest(), total


def _reflink(source: str, target: str) -> bool:
    """Clone ``source`` to the new file ``target`` copy-on-write; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        with open(source, "rb") as src, open(target, "xb") as dst:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
            os.fsync(dst.fileno())
            times = os.fstat(src.fileno())
        os.utime(target, ns=(times.st_atime_ns, times.st_mtime_ns))
        return True
    except OSError:
        try:
            os.unlink(target)
        except OSError:
            pass
        return False


def _hard_link(source: str, target: str) -> bool:
    try:
        os.link(source, target)
        return True
    except OSError:
        return False


def _protect_link(linked: str, before: os.stat_result) -> bool:
    """Remove the write bits of a hard-linked blob's inode if it is still the file ``before`` describes."""
    mode = stat.S_IMODE(before.st_mode)
    try:
        os.chmod(linked, mode & ~0o222)
        after = os.stat(linked)
    except OSError:
        return False
    if (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino):
        return True
    try:
        os.chmod(linked, mode)
    except OSError:
        pass
    return False


class BlobStore:
    """Blobs named by sha256, written through a temporary file and a rename."""

    def __init__(self, root: str, link: str = "auto") -> None:  # "auto" or "hardlink"
        self.root = root
        self.link = link

    def path(self, sha: str) -> str:
        return os.path.join(self.root, sha[:2], sha)

    def has(self, sha: str) -> bool:
        return os.path.isfile(self.path(sha))

    def _temporary(self) -> str:
        folder = os.path.join(self.root, "tmp")
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, f"{os.getpid()}-{uuid.uuid4().hex}")

    def ingest(self, source: str, before: os.stat_result, on_bytes: OnBytes) -> tuple[str, int]:
        """Store ``source``'s content once; returns (sha256, size) of what was stored. Raises OSError."""
        temporary = self._temporary()
        try:
            how = "copy"
            if _reflink(source, temporary):
                how = "reflink"
            elif self.link == "hardlink" and _hard_link(source, temporary):
                how = "link"
            if how == "copy":
                sha, size = _copy_hashing(source, temporary, on_bytes)
            else:
                sha, size = hash_file(temporary, on_bytes)
            if self.has(sha):
                return sha, size
            if how == "link" and not _protect_link(temporary, before):
                os.unlink(temporary)
                sha, size = _copy_hashing(source, temporary, on_bytes)
                if self.has(sha):
                    return sha, size
                how = "copy"
            if how != "link":
                os.chmod(temporary, 0o444)
            os.makedirs(os.path.dirname(self.path(sha)), exist_ok=True)
            os.replace(temporary, self.path(sha))
            return sha, size
        finally:
            if os.path.lexists(temporary):
                os.unlink(temporary)

    def materialise(self, sha: str, target: str, on_bytes: OnBytes) -> str:
        """Make the new file ``target`` hold blob ``sha`` (hard link in "hardlink" mode, else reflink, else copy);
        returns the sha256 it actually has.

        Raises:
            FileNotFoundError: the blob is missing.
            OSError: another failure.
        """
        blob = self.path(sha)
        if not os.path.isfile(blob):
            raise FileNotFoundError(blob)
        if (self.link == "hardlink" and _hard_link(blob, target)) or _reflink(blob, target):
            return hash_file(target, on_bytes)[0]
        return _copy_hashing(blob, target, on_bytes)[0]

    def walk(self) -> Iterator[tuple[str, str]]:
        """Every (name, path) under the store, leftover temporaries included (their name is not a sha)."""
        for folder, _, files in os.walk(self.root):
            for name in files:
                yield name, os.path.join(folder, name)

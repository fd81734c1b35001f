"""Content-addressed blob stores: a local folder (default) or an S3-compatible bucket (boto3).

Blobs are named by their sha256 hex digest, stored once whichever team uploads them; which teams
may read a blob is the database's business (``blobs`` rows), not the store's.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any, Protocol

from tracker_server._errors import ApiError

__all__ = ["BlobStore", "LocalBlobs", "S3Blobs", "open_blob_store"]

_CHUNK = 1 << 20


class BlobStore(Protocol):
    def exists(self, digest: str) -> bool: ...

    def put_file(self, digest: str, path: str) -> None:
        """Store the (verified) file at ``path`` under ``digest``; the file may be moved away."""

    def iter_bytes(self, digest: str) -> Iterator[bytes]: ...


class LocalBlobs:
    """``<folder>/<2 hex>/<digest>``, written to a temporary name and renamed into place."""

    def __init__(self, folder: str) -> None:
        self.folder = os.path.abspath(folder)
        os.makedirs(self.folder, exist_ok=True)

    def _path(self, digest: str) -> str:
        return os.path.join(self.folder, digest[:2], digest)

    def exists(self, digest: str) -> bool:
        return os.path.exists(self._path(digest))

    def put_file(self, digest: str, path: str) -> None:
        target = self._path(digest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        temporary = f"{target}.{os.getpid()}.tmp"
        shutil.move(path, temporary)
        os.replace(temporary, target)

    def iter_bytes(self, digest: str) -> Iterator[bytes]:
        with open(self._path(digest), "rb") as handle:
            while chunk := handle.read(_CHUNK):
                yield chunk


class S3Blobs:
    """``s3://bucket/prefix/<digest>``; the endpoint comes from ``TRACKER_S3_ENDPOINT_URL`` (AWS when unset),
    credentials from boto3's usual sources (``AWS_ACCESS_KEY_ID``, profiles, instance roles)."""

    def __init__(self, url: str, endpoint_url: str | None) -> None:
        import boto3  # type: ignore[import-untyped,unused-ignore]

        bucket, _, prefix = url[len("s3://"):].partition("/")
        if not bucket:
            raise ValueError(f"{url!r} names no bucket; use s3://bucket/prefix")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self._client: Any = boto3.client("s3", endpoint_url=endpoint_url)

    def _key(self, digest: str) -> str:
        return f"{self.prefix}/{digest}" if self.prefix else digest

    def exists(self, digest: str) -> bool:
        from botocore.exceptions import ClientError  # type: ignore[import-untyped,unused-ignore]

        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(digest))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def put_file(self, digest: str, path: str) -> None:
        """Raises ApiError 503 (the client retries) when the S3 store refuses or fails the upload."""
        from boto3.exceptions import S3UploadFailedError  # type: ignore[import-untyped,unused-ignore]
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped,unused-ignore]

        try:
            self._client.upload_file(path, self.bucket, self._key(digest))
        except (S3UploadFailedError, BotoCoreError, ClientError) as error:
            raise ApiError(503, "blob_store_unavailable", f"the blob store did not take the blob: {error}") from error

    def iter_bytes(self, digest: str) -> Iterator[bytes]:
        body = self._client.get_object(Bucket=self.bucket, Key=self._key(digest))["Body"]
        try:
            yield from body.iter_chunks(_CHUNK)
        finally:
            body.close()


def open_blob_store(url: str) -> BlobStore:
    """``s3://...`` or a folder."""
    if url.startswith("s3://"):
        from tracker_core._settings import ServerSettings, resolve

        return S3Blobs(url, resolve(ServerSettings, {}).s3_endpoint_url)
    return LocalBlobs(url)

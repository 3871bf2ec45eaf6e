"""Blob storage adapters behind `vidgen.core.ports.Storage`: a folder (`file://`, local mode and
PVCs) and S3-compatible object storage (`s3://bucket/prefix`). `open_storage(settings)` picks one
from the URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vidgen.core.settings import ConfigError

from .file_storage import FileStorage, StorageKeyError

if TYPE_CHECKING:
    from vidgen.core.ports import Storage
    from vidgen.core.settings import Settings

__all__ = ["FileStorage", "StorageKeyError", "open_storage", "storage_from_url"]


def storage_from_url(
    url: str,
    *,
    endpoint_url: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    region: str = "us-east-1",
) -> Storage:
    if url.startswith("file://"):
        return FileStorage(url.removeprefix("file://"))
    if url.startswith("s3://"):
        from .s3_storage import S3Storage

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ConfigError("invalid setting VIDGEN_STORAGE_URL: s3:// needs a bucket")
        return S3Storage(
            bucket,
            prefix,
            endpoint_url=endpoint_url,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            region=region,
        )
    raise ConfigError("invalid setting VIDGEN_STORAGE_URL: use file://FOLDER or s3://BUCKET/PREFIX")


def open_storage(settings: Settings) -> Storage:
    return storage_from_url(
        settings.storage_url,
        endpoint_url=settings.s3_endpoint_url,
        access_key_id=settings.secret("s3_access_key_id"),
        secret_access_key=settings.secret("s3_secret_access_key"),
        region=settings.s3_region,
    )

"""Storage adapters: a folder and S3 (moto's real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import urllib.request

import pytest

from vidgen.core.ports import Storage
from vidgen.core.settings import ConfigError
from vidgen.storage import FileStorage, StorageKeyError, storage_from_url


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3(endpoint: str, bucket: str = "media") -> Storage:
    import boto3

    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    ).create_bucket(Bucket=bucket)
    return storage_from_url(
        f"s3://{bucket}/vidgen", endpoint_url=endpoint, access_key_id="k", secret_access_key="s"
    )


def exercise(store: Storage, tmp_path) -> None:
    assert isinstance(store, Storage)
    assert not store.exists("inputs/a.jpg")
    store.put("inputs/a.jpg", b"JPEG", "image/jpeg")
    assert store.exists("inputs/a.jpg")
    assert store.get("inputs/a.jpg") == b"JPEG"
    src = tmp_path / "v.mp4"
    src.write_bytes(b"MP4" * 1000)
    store.put_file("outputs/v.mp4", src, "video/mp4")
    dst = tmp_path / "copy.mp4"
    store.get_file("outputs/v.mp4", dst)
    assert dst.read_bytes() == src.read_bytes()
    with pytest.raises(StorageKeyError):
        store.get("outputs/missing.mp4")
    with pytest.raises(StorageKeyError):
        store.get_file("outputs/missing.mp4", tmp_path / "x")
    for bad in ("../etc/passwd", "/abs", ""):
        with pytest.raises(StorageKeyError):
            store.put(bad, b"x")
    store.delete("inputs/a.jpg")
    assert not store.exists("inputs/a.jpg")


def test_file_storage(tmp_path) -> None:
    store = storage_from_url(f"file://{tmp_path / 'data'}")
    assert isinstance(store, FileStorage)
    exercise(store, tmp_path)
    assert store.signed_url("outputs/v.mp4") is None


def test_s3_storage_and_signed_url(s3_server, tmp_path) -> None:
    store = s3(s3_server)
    exercise(store, tmp_path)
    url = store.signed_url("outputs/v.mp4", 60)
    assert url and url.startswith(s3_server)
    with urllib.request.urlopen(url) as resp:
        assert resp.read() == b"MP4" * 1000


def test_bad_storage_url() -> None:
    with pytest.raises(ConfigError):
        storage_from_url("ftp://x")
    with pytest.raises(ConfigError):
        storage_from_url("s3://")

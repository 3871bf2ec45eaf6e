"""The runner on S3-compatible storage (moto's real HTTP server): the photo is passed to KIE.AI
as a presigned URL instead of being uploaded, and the video lands in the bucket."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from tests.fakes.kie import FakeKie
from vidgen.core.models import checkpoint_key, photo_key, video_key
from vidgen.runner.pipeline import RunRequest, run_generation
from vidgen.storage import storage_from_url

from .conftest import EXAMPLES, NAME


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


async def test_signed_url_instead_of_upload_and_video_in_the_bucket(s3_endpoint: str, make_settings) -> None:
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    ).create_bucket(Bucket="runner-media")
    url = "s3://runner-media/vidgen"
    storage = storage_from_url(url, endpoint_url=s3_endpoint, access_key_id="k", secret_access_key="s")
    photo = (EXAMPLES / "cat.jpg").read_bytes()
    storage.put(photo_key(NAME), photo, "image/jpeg")

    async with FakeKie(fetch_images=True) as kie:
        settings = make_settings(
            kie, storage_url=url, s3_endpoint_url=s3_endpoint, s3_access_key_id="k", s3_secret_access_key="s"
        )
        result = await run_generation(RunRequest(name=NAME, photo=photo_key(NAME)), settings, storage)

        assert result.ok, result
        assert kie.calls("upload") == []
        (image_url,) = kie.calls("createTask")[0].body["input"]["image_urls"]
        assert image_url.startswith(s3_endpoint) and "Signature" in image_url
        assert kie.fetched_images[image_url] == photo  # the provider could read it
    assert storage.get(video_key(NAME)) == kie.video
    assert storage.exists(checkpoint_key(NAME))

"""The fake KIE.AI and OpenAI servers behave like the real ones where vidgen (and the
benchmarks) depend on it."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.fakes.kie import FakeKie
from tests.fakes.openai_api import FakeOpenAI

BODY = {"model": "sora-2-image-to-video", "input": {"prompt": "p", "image_urls": ["http://x/y.jpg"]}}


async def test_fake_kie_enforces_20_creations_per_10_seconds() -> None:
    async with FakeKie(rate_window=0.5) as kie:
        async with httpx.AsyncClient(
            base_url=kie.url, headers={"Authorization": f"Bearer {kie.api_key}"}
        ) as c:
            codes = [(await c.post("/api/v1/jobs/createTask", json=BODY)).json()["code"] for _ in range(22)]
            assert codes == [200] * 20 + [429, 429]
            assert kie.create_calls == 22 and len(kie.tasks) == 20  # refused requests are not kept
            await asyncio.sleep(0.55)
            assert (await c.post("/api/v1/jobs/createTask", json=BODY)).json()["code"] == 200
    assert FakeKie().rate_limit == 20 and FakeKie().rate_window == 10.0


async def test_fake_kie_task_lifecycle_and_faults() -> None:
    async with FakeKie(generation_seconds=0.3, credits=1) as kie:
        async with httpx.AsyncClient(
            base_url=kie.url, headers={"Authorization": f"Bearer {kie.api_key}"}
        ) as c:
            assert (await c.post("/api/v1/jobs/createTask", json={"model": "nope"})).json()["code"] == 422
            task_id = (await c.post("/api/v1/jobs/createTask", json=BODY)).json()["data"]["taskId"]
            assert (await c.post("/api/v1/jobs/createTask", json=BODY)).json()["code"] == 402  # credits gone
            data = (await c.get("/api/v1/jobs/recordInfo", params={"taskId": task_id})).json()["data"]
            assert data["state"] in ("waiting", "generating") and data["resultJson"] == ""
            await asyncio.sleep(0.3)
            data = (await c.get("/api/v1/jobs/recordInfo", params={"taskId": task_id})).json()["data"]
            assert data["state"] == "success"
            (url,) = json.loads(data["resultJson"])["resultUrls"]  # a JSON *string*
            video = await c.get(url)
            assert video.headers["content-type"] == "video/mp4" and video.content[4:8] == b"ftyp"
            assert (await c.get("/api/v1/chat/credit")).json()["data"] == 0

            kie.fail("recordInfo", times=1, code=455, msg="maintenance")
            answer = await c.get("/api/v1/jobs/recordInfo", params={"taskId": task_id})
            assert answer.status_code == 200 and answer.json()["code"] == 455  # HTTP 200, code in the body
            assert (await c.get("/api/v1/jobs/recordInfo", params={"taskId": "nope"})).json()["code"] == 404
        async with httpx.AsyncClient(base_url=kie.url, headers={"Authorization": "Bearer wrong"}) as c:
            assert (await c.post("/api/v1/jobs/createTask", json=BODY)).status_code == 401
    assert kie.polls(task_id) == 2  # the faulted answer never read the task


async def test_fake_openai_speaks_chat_completions() -> None:
    from openai import AsyncOpenAI

    async with FakeOpenAI(reply="A slow pan across the scene, warm light.") as fake:
        client = AsyncOpenAI(api_key=fake.api_key, base_url=fake.url, max_retries=0)
        answer = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content == "A slow pan across the scene, warm light."
        fake.fail(times=1, status=429, message="Rate limit reached")
        try:
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        except Exception as exc:
            assert type(exc).__name__ == "RateLimitError"
        else:
            raise AssertionError("the scripted 429 did not arrive")
        await client.close()
        assert len(fake.requests) == 2


async def test_fake_kie_result_urls_expire_by_count_and_by_virtual_time() -> None:
    now = [100.0]
    async with FakeKie() as kie:
        kie.clock = lambda: now[0]
        auth = {"Authorization": f"Bearer {kie.api_key}"}
        async with httpx.AsyncClient(base_url=kie.url, headers=auth) as c:
            task_id = (await c.post("/api/v1/jobs/createTask", json=BODY)).json()["data"]["taskId"]

            async def result_url() -> str:
                data = (await c.get("/api/v1/jobs/recordInfo", params={"taskId": task_id})).json()["data"]
                return json.loads(data["resultJson"])["resultUrls"][0]

            kie.url_max_downloads = 2
            url = await result_url()
            assert [(await c.get(url)).status_code for _ in range(3)] == [200, 200, 403]
            kie.url_max_downloads = None
            kie.url_ttl_seconds = 10
            kie.expired_status = 410
            url = await result_url()
            assert (await c.get(url)).status_code == 200
            now[0] += 10
            assert (await c.get(url)).status_code == 410
            fresh = (await c.post("/api/v1/common/download-url", json={"url": url})).json()["data"]
            assert fresh != url and (await c.get(fresh)).status_code == 200
            assert kie.expired_downloads == 2
            # requests are timed on the fake's clock: two status reads at t=100, one at t=110
            assert kie.status_rate_peak(1.0) == 2

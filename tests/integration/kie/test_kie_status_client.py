"""The operator's status client against the fake KIE.AI: each family's status read the same way
as the runner reads it, a callback confirmed by a status request, and — the issue's case — 500
tasks in flight with no callbacks polled at no more than 10 requests per second, counted by the
fake on a virtual clock shared with the client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.kie import FakeKie
from vidgen.core.poll_budget import StatusBudget
from vidgen.core.settings import load_settings
from vidgen.runner.kie_status import KieStatusClient
from vidgen.runner.provider import TaskState


class VirtualTime:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def vt(kie: FakeKie) -> VirtualTime:
    clock = VirtualTime()
    kie.clock = clock
    return clock


@pytest.fixture
async def client(kie: FakeKie, vt: VirtualTime) -> AsyncIterator[KieStatusClient]:
    settings = load_settings(_env_file=None, kie_api_key=kie.api_key, kie_base_url=kie.url)
    status = KieStatusClient(settings, clock=vt, sleep=vt.sleep)
    try:
        yield status
    finally:
        await status.aclose()


def new_task(kie: FakeKie, model: str, kind: str) -> str:
    return kie._new_task(model, kind, {"prompt": "p"}).task_id


@pytest.mark.parametrize(
    ("model", "kind"), [("sora-2-image-to-video", "jobs"), ("veo3_fast", "veo"), ("runway-gen4", "runway")]
)
async def test_each_family_is_read(model: str, kind: str, kie: FakeKie, vt: VirtualTime, client) -> None:
    kie.generation_seconds = 100
    task_id = new_task(kie, model, kind)
    assert (await client.status(task_id, model)).state is TaskState.PENDING
    vt.now += 100
    done = await client.status(task_id, model)
    assert done.state is TaskState.SUCCESS and done.video_url and task_id in done.video_url


async def test_confirming_a_callback_waits_for_the_budget(kie: FakeKie, vt: VirtualTime) -> None:
    settings = load_settings(_env_file=None, kie_api_key=kie.api_key, kie_base_url=kie.url)
    client = KieStatusClient(settings, budget=StatusBudget(2, 1.0), clock=vt, sleep=vt.sleep)
    try:
        task_id = new_task(kie, "sora-2-image-to-video", "jobs")
        start = vt.now
        for _ in range(5):
            await client.status(task_id, "sora-2-image-to-video")
        assert vt.now - start == pytest.approx(2.0)  # 5 requests at 2/s: two full waits
        assert kie.status_rate_peak(1.0) == 2
    finally:
        await client.aclose()


async def test_500_tasks_in_flight_stay_within_10_status_requests_per_second(
    kie: FakeKie, vt: VirtualTime, client: KieStatusClient
) -> None:
    kie.generation_seconds = 240
    start = vt.now
    models = {}
    for i in range(500):
        vt.now = start + i * 0.2  # submitted over 100 s
        task_id = new_task(kie, "sora-2-image-to-video", "jobs")
        models[task_id] = "sora-2-image-to-video"
        client.planner.add(task_id, submitted_at=vt.now, expected_seconds=200)  # a little early
    vt.now = start
    finished: dict[str, TaskState] = {}
    while len(finished) < 500 and vt.now < start + 600:
        done = await client.poll_due(models)
        finished |= {t: s.state for t, s in done.items()}
        wake = client.planner.next_wake(vt.now)
        vt.now = max(vt.now + 0.05, wake if wake is not None else vt.now)

    assert len(finished) == 500 and set(finished.values()) == {TaskState.SUCCESS}
    assert kie.status_rate_peak(1.0) <= 10  # counted by the fake, on the virtual clock
    polls = len(kie.calls("recordInfo"))
    assert 500 < polls < 500 * 4  # every task asked about, a few times each, not hammered
    assert len(client.planner) == 0

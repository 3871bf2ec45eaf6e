"""The operator's callback endpoint `POST /kie/callback/{generation}` against callbacks the fake
KIE.AI signs and delivers: a genuine one is hinted once; forged, replayed, stale, malformed,
unknown-generation and unknown-task callbacks get their HTTP status and change nothing; a
duplicate is answered 200 and not hinted again."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.fakes.kie import FakeKie
from vidgen.core.callbacks_kie import sign
from vidgen.operator.kie_callbacks import bound_port, make_callback_app, start_callback_server

GEN = "vg-7-abc"


@dataclass
class Operator:
    """What the endpoint may see of the operator: generations and their tasks, the hints."""

    tasks: dict[str, set[str]] = field(default_factory=dict)
    hints: list[tuple[str, str]] = field(default_factory=list)
    fail_hints: int = 0
    url: str = ""

    async def lookup(self, generation: str) -> set[str] | None:
        return self.tasks.get(generation)

    async def hint(self, generation: str, task_id: str) -> None:
        if self.fail_hints:
            self.fail_hints -= 1
            raise RuntimeError("the reconciler is busy")
        self.hints.append((generation, task_id))


@pytest.fixture
async def operator(kie: FakeKie) -> AsyncIterator[Operator]:
    op = Operator()
    assert kie.webhook_key
    app = make_callback_app(key=kie.webhook_key, lookup=op.lookup, hint=op.hint, max_age=300)
    runner = await start_callback_server(app, "127.0.0.1", 0)
    op.url = f"http://127.0.0.1:{bound_port(runner)}"
    try:
        yield op
    finally:
        await runner.cleanup()


async def task_with_callback(kie: FakeKie, op: Operator, generation: str = GEN) -> str:
    body = {
        "model": "sora-2-image-to-video",
        "callBackUrl": f"{op.url}/kie/callback/{generation}",
        "input": {"prompt": "p", "image_urls": ["http://x/y.jpg"]},
    }
    async with httpx.AsyncClient(base_url=kie.url, headers={"Authorization": f"Bearer {kie.api_key}"}) as c:
        task_id = (await c.post("/api/v1/jobs/createTask", json=body)).json()["data"]["taskId"]
    op.tasks.setdefault(generation, set()).add(task_id)
    return task_id


async def post(op: Operator, generation: str, headers: dict[str, str], body: bytes) -> httpx.Response:
    async with httpx.AsyncClient() as c:
        return await c.post(f"{op.url}/kie/callback/{generation}", content=body, headers=headers)


async def test_a_genuine_callback_is_hinted_once_and_duplicates_are_answered(
    kie: FakeKie, operator: Operator
) -> None:
    task_id = await task_with_callback(kie, operator)
    assert await kie.deliver_callback(task_id) == 200
    assert operator.hints == [(GEN, task_id)]
    assert await kie.deliver_callback(task_id) == 200  # KIE.AI's retry, or a replay in the window
    headers, body = kie.callback_for(task_id)
    again = await post(operator, GEN, headers, body)
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert operator.hints == [(GEN, task_id)]


@pytest.mark.parametrize(
    ("case", "status", "outcome"),
    [
        ("forged", 401, "bad_signature"),
        ("unsigned", 401, "missing_signature"),
        ("stale", 401, "stale"),
        ("other_tasks_signature", 401, "bad_signature"),
        ("malformed", 400, "malformed"),
        ("unknown_generation", 404, "unknown_generation"),
        ("bad_generation_name", 404, "unknown_generation"),
        ("unknown_task", 404, "unknown_task"),
    ],
)
async def test_refused_callbacks_change_nothing(
    case: str, status: int, outcome: str, kie: FakeKie, operator: Operator
) -> None:
    task_id = await task_with_callback(kie, operator)
    other = await task_with_callback(kie, operator, generation="vg-8-other")
    headers, body = kie.callback_for(task_id)
    generation = GEN
    if case == "forged":
        headers["X-Webhook-Signature"] = sign(task_id, headers["X-Webhook-Timestamp"], "not-the-key")
    elif case == "unsigned":
        headers = {"Content-Type": "application/json"}
    elif case == "stale":
        headers, body = kie.callback_for(task_id, timestamp=int(time.time()) - 3600)
    elif case == "other_tasks_signature":
        headers = kie.callback_for(other)[0]
    elif case == "malformed":
        body = b'{"code": 200, "data": '
    elif case == "unknown_generation":
        generation = "vg-9-nobody"
    elif case == "bad_generation_name":
        generation = "Not_A_Name"
    elif case == "unknown_task":
        headers, body = kie.callback_for(other)  # genuine, but not a task of this generation
    answer = await post(operator, generation, headers, body)
    assert (answer.status_code, answer.json()) == (status, {"status": outcome})
    assert operator.hints == []


async def test_a_failed_hint_is_503_so_kie_tries_again(kie: FakeKie, operator: Operator) -> None:
    task_id = await task_with_callback(kie, operator)
    operator.fail_hints = 1
    assert await kie.deliver_callback(task_id) == 503
    assert await kie.deliver_callback(task_id) == 200
    assert operator.hints == [(GEN, task_id)]


async def test_without_a_key_unsigned_callbacks_are_hints(kie: FakeKie) -> None:
    op = Operator(tasks={GEN: {"task_1"}})
    runner = await start_callback_server(
        make_callback_app(key=None, lookup=op.lookup, hint=op.hint), "127.0.0.1", 0
    )
    op.url = f"http://127.0.0.1:{bound_port(runner)}"
    try:
        body = json.dumps({"code": 200, "data": {"taskId": "task_1"}}).encode()
        assert (await post(op, GEN, {}, body)).status_code == 200
        assert op.hints == [(GEN, "task_1")]
    finally:
        await runner.cleanup()

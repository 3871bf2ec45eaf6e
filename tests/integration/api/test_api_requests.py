"""POST /v1/generations and the reads around it, in-process: what is written and debited for a
good request, an idempotent retry, and each bad input (a problem document, nothing debited)."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import func, select

from vidgen.core.db.api_keys import revoke_key
from vidgen.core.db.engine import transaction
from vidgen.core.db.models import ApiRequest, CreditEntry, Generation, Outbox

from .conftest import Api

PROBLEM = "application/problem+json"


async def counts(api: Api) -> tuple[int, int, int]:
    async with api.sessions() as session:
        gens = await session.scalar(select(func.count()).select_from(Generation))
        debits = await session.scalar(
            select(func.count()).select_from(CreditEntry).where(CreditEntry.kind == "debit")
        )
        outbox = await session.scalar(select(func.count()).select_from(Outbox))
    return int(gens or 0), int(debits or 0), int(outbox or 0)


def problem(response, status: int, slug: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    doc = response.json()
    assert doc["type"] == f"/problems/{slug}" and doc["status"] == status and doc["detail"]
    return doc


async def test_a_request_debits_once_writes_the_generation_and_launches_it(api: Api) -> None:
    key = await api.key(7)
    response = await api.post(key.key, prompt="the cat waves", webhook_url="http://127.0.0.1:9/hook")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["cost"] == 1 and body["id"].startswith("vg-7-")
    assert response.headers["location"] == f"/v1/generations/{body['id']}"
    assert await counts(api) == (1, 1, 1)
    assert await api.balance(7) == 1
    [spec] = api.launcher.launched
    assert spec.name == body["id"] and spec.chat_id == 0 and spec.user_id == 7
    assert api.storage.exists(spec.photo)
    async with api.sessions() as session:
        row = await session.get(ApiRequest, body["id"])
        assert row is not None and row.webhook_url == "http://127.0.0.1:9/hook"
    got = await api.get(key.key, f"/v1/generations/{body['id']}")
    assert got.status_code == 200 and got.json()["id"] == body["id"]


async def test_the_same_idempotency_key_returns_the_first_result_and_debits_once(api: Api) -> None:
    key = await api.key(8)
    first = await api.post(key.key, prompt="waves", headers={"Idempotency-Key": "order-1"})
    again = await api.post(key.key, prompt="waves", headers={"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    assert await counts(api) == (1, 1, 1)
    assert len(api.launcher.launched) == 1
    other = await api.post(key.key, prompt="waves", headers={"Idempotency-Key": "order-2"})
    assert other.json()["id"] != first.json()["id"]
    assert await api.balance(8) == 0


async def test_the_same_idempotency_key_with_another_body_is_409_and_nothing_more(api: Api) -> None:
    key = await api.key(9)
    await api.post(key.key, prompt="waves", headers={"Idempotency-Key": "k"})
    response = await api.post(key.key, prompt="jumps", headers={"Idempotency-Key": "k"})
    problem(response, 409, "idempotency-key-reused")
    assert await counts(api) == (1, 1, 1) and await api.balance(9) == 1


async def test_a_missing_wrong_or_revoked_key_is_401(api: Api) -> None:
    key = await api.key(10)
    problem(await api.post(None), 401, "unauthorized")
    problem(await api.post("vgk_nope_nope"), 401, "unauthorized")
    problem(await api.post(key.key[:-2] + "xx"), 401, "unauthorized")
    async with transaction(api.sessions) as session:
        assert await revoke_key(session, key.id)
    response = await api.post(key.key)
    assert problem(response, 401, "unauthorized") and response.headers["www-authenticate"] == "Bearer"
    assert await counts(api) == (0, 0, 0) and await api.balance(10) == 2


async def test_another_accounts_generation_is_404_to_read_and_to_cancel(api: Api) -> None:
    mine, theirs = await api.key(11), await api.key(12)
    gen = (await api.post(mine.key)).json()["id"]
    problem(await api.get(theirs.key, f"/v1/generations/{gen}"), 404, "not-found")
    deleted = await api.client.delete(
        f"/v1/generations/{gen}", headers={"Authorization": f"Bearer {theirs.key}"}
    )
    problem(deleted, 404, "not-found")
    assert api.launcher.cancelled == []
    assert (await api.get(theirs.key, "/v1/generations")).json()["data"] == []
    # a second key of the same account sees it
    second = await api.key(11)
    assert (await api.get(second.key, f"/v1/generations/{gen}")).status_code == 200


async def test_unknown_model_or_option_is_422_naming_the_field(api: Api) -> None:
    key = await api.key(13)
    doc = problem(await api.post(key.key, model="sora-9"), 422, "unknown-model")
    assert doc["errors"][0]["field"] == "model"
    doc = problem(await api.post(key.key, duration_seconds=7), 422, "invalid-field")
    assert doc["errors"][0]["field"] == "duration_seconds" and "10" in doc["detail"]
    doc = problem(await api.post(key.key, aspect_ratio="square"), 422, "invalid-field")
    assert doc["errors"][0]["field"] == "aspect_ratio"
    doc = problem(await api.post(key.key, resolution="4k"), 422, "invalid-field")
    assert doc["errors"][0]["field"] == "resolution"
    doc = problem(await api.post(key.key, colour="blue"), 422, "invalid-field")
    assert doc["errors"][0]["field"] == "colour"
    assert await counts(api) == (0, 0, 0) and await api.balance(13) == 2


async def test_a_photo_that_is_not_an_image_or_too_large(api: Api) -> None:
    key = await api.key(14)
    doc = problem(await api.post(key.key, photo=b"%PDF-1.4 not a photo"), 422, "photo-invalid")
    assert doc["errors"][0]["field"] == "photo"
    big = api.settings.max_photo_bytes + 1
    problem(await api.post(key.key, photo=b"\xff" * big), 413, "photo-too-large")
    huge = b"\xff" * (api.settings.max_photo_bytes + 200_000)
    problem(await api.post(key.key, photo=huge), 413, "body-too-large")
    problem(await api.post(key.key, photo=None), 422, "invalid-field")  # neither photo nor photo_url
    assert await counts(api) == (0, 0, 0) and await api.balance(14) == 2
    assert (
        not list((api.storage.root / "inputs").glob("*")) if (api.storage.root / "inputs").exists() else True
    )


async def test_a_png_is_stored_as_jpeg(api: Api) -> None:
    key = await api.key(15)
    out = io.BytesIO()
    Image.new("RGBA", (64, 64), (255, 0, 0, 128)).save(out, "PNG")
    response = await api.post(key.key, photo=out.getvalue())
    assert response.status_code == 202
    stored = api.storage.get(api.launcher.launched[0].photo)
    assert stored[:2] == b"\xff\xd8"


async def test_a_prompt_over_the_limit_is_422(api: Api) -> None:
    key = await api.key(16)
    text = "x" * (api.settings.max_prompt_chars + 1)
    doc = problem(await api.post(key.key, prompt=text), 422, "prompt-too-long")
    assert doc["errors"][0]["field"] == "prompt"
    assert await counts(api) == (0, 0, 0)


async def test_no_credits_is_402_with_the_balance_and_nothing_written(api: Api) -> None:
    key = await api.key(17, free_credits=0)
    doc = problem(await api.post(key.key, headers={"Idempotency-Key": "a"}), 402, "insufficient-credits")
    assert doc["balance"] == 0 and doc["cost"] == 1
    assert await counts(api) == (0, 0, 0) and api.launcher.launched == []
    doc = problem(await api.post(key.key, model="veo3_fast"), 402, "insufficient-credits")
    assert doc["cost"] == 2


async def test_a_webhook_url_to_a_private_address_or_not_http_is_422(api: Api) -> None:
    key = await api.key(18)
    for url in (
        "http://10.0.0.5/hook",
        "http://192.168.1.2/x",
        "http://169.254.169.254/latest",
        "ftp://example.com/x",
    ):
        doc = problem(await api.post(key.key, webhook_url=url), 422, "url-refused")
        assert doc["errors"][0]["field"] == "webhook_url"
    assert await counts(api) == (0, 0, 0) and await api.balance(18) == 2


async def test_rate_limit_per_key_is_429_with_retry_after(sqlite_sessions, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from .conftest import make_api

    async for api in make_api(sqlite_sessions, tmp_path, api_rate_limit=2, api_rate_window_seconds=30):
        key, other = await api.key(19), await api.key(20)
        assert (await api.get(key.key, "/v1/balance")).status_code == 200
        assert (await api.get(key.key, "/v1/balance")).status_code == 200
        response = await api.get(key.key, "/v1/balance")
        problem(response, 429, "rate-limited")
        assert response.headers["retry-after"] == "30"
        assert (await api.get(other.key, "/v1/balance")).status_code == 200  # per key
        api.clock.now += 30
        assert (await api.get(key.key, "/v1/balance")).status_code == 200


async def test_cancel_before_start_asks_the_canceller_and_after_start_is_409(api: Api) -> None:
    key = await api.key(21)
    gen = (await api.post(key.key)).json()["id"]
    auth = {"Authorization": f"Bearer {key.key}"}
    response = await api.client.delete(f"/v1/generations/{gen}", headers=auth)
    # the recording canceller changes nothing: still cancelling (a cluster's operator finishes it)
    assert response.status_code == 202 and api.launcher.cancelled == [gen]
    async with transaction(api.sessions) as session:
        row = await session.get(Generation, gen)
        assert row is not None
        row.phase = "Running"
    problem(await api.client.delete(f"/v1/generations/{gen}", headers=auth), 409, "already-started")
    async with transaction(api.sessions) as session:
        row = await session.get(Generation, gen)
        assert row is not None
        row.phase = "Delivered"
    problem(await api.client.delete(f"/v1/generations/{gen}", headers=auth), 409, "already-finished")
    assert api.launcher.cancelled == [gen]


async def test_the_list_pages_newest_first_and_the_ledger_too(api: Api) -> None:
    key = await api.key(22, free_credits=5)
    made = [(await api.post(key.key, prompt=f"p{i}")).json()["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await api.get(key.key, "/v1/generations", **params)).json()
        seen += [g["id"] for g in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))
    ledger = (await api.get(key.key, "/v1/ledger", limit=3)).json()
    assert [e["kind"] for e in ledger["data"]] == ["debit"] * 3
    rest = (await api.get(key.key, "/v1/ledger", limit=10, cursor=ledger["next_cursor"])).json()
    assert [e["kind"] for e in rest["data"]] == ["debit", "debit", "signup_bonus"]
    assert (await api.get(key.key, "/v1/balance")).json()["balance"] == 0
    problem(await api.get(key.key, "/v1/generations", cursor="garbage!"), 400, "bad-cursor")
    problem(await api.get(key.key, "/v1/generations", limit=0), 422, "invalid-field")


async def test_openapi_and_docs_are_served(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    assert "/v1/generations" in doc["paths"] and "/v1/balance" in doc["paths"]
    body = doc["paths"]["/v1/generations"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body
    assert (await api.client.get("/docs")).status_code == 200

"""KIE.AI callbacks are checked before they are even a hint: signed ones verified (HMAC-SHA256
over taskId.timestamp, base64, constant-time), stale or forged ones refused, malformed bodies
refused; without a key only the body is read."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vidgen.core.callbacks_kie import (
    CallbackAccepted,
    CallbackRefused,
    Refusal,
    sign,
    verify_kie_callback,
)

KEY = "webhook-key"
NOW = 1_800_000_000.0
BODY = json.dumps({"code": 200, "msg": "success", "data": {"taskId": "task_1", "state": "success"}}).encode()


def signed(task_id: str = "task_1", ts: float = NOW, key: str = KEY) -> dict[str, str]:
    stamp = str(int(ts))
    return {"X-Webhook-Timestamp": stamp, "X-Webhook-Signature": sign(task_id, stamp, key)}


def test_a_signed_fresh_callback_gives_its_task_id() -> None:
    verdict = verify_kie_callback(signed(), BODY, KEY, NOW)
    assert verdict == CallbackAccepted("task_1", 200, json.loads(BODY))


def test_the_signature_is_kies_formula() -> None:
    import base64
    import hashlib
    import hmac

    expected = base64.b64encode(hmac.new(b"k", b"t.123", hashlib.sha256).digest()).decode()
    assert sign("t", "123", "k") == expected


def test_header_names_are_case_insensitive_and_milliseconds_are_read() -> None:
    stamp = str(int(NOW * 1000))
    headers = {"x-webhook-timestamp": stamp, "x-webhook-signature": sign("task_1", stamp, KEY)}
    assert isinstance(verify_kie_callback(headers, BODY, KEY, NOW), CallbackAccepted)


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({}, BODY, Refusal.MISSING_SIGNATURE),
        ({"X-Webhook-Timestamp": str(int(NOW))}, BODY, Refusal.MISSING_SIGNATURE),
        (signed(key="another-key"), BODY, Refusal.BAD_SIGNATURE),  # forged
        (signed(task_id="task_2"), BODY, Refusal.BAD_SIGNATURE),  # a signature lifted from another task
        ({**signed(), "X-Webhook-Timestamp": str(int(NOW) + 1)}, BODY, Refusal.BAD_SIGNATURE),  # re-dated
        (signed(ts=NOW - 301), BODY, Refusal.STALE),  # a replay
        (signed(ts=NOW + 301), BODY, Refusal.STALE),
        (signed(), b"not json", Refusal.MALFORMED),
        (signed(), b"[1, 2]", Refusal.MALFORMED),
        (signed(), json.dumps({"code": 200, "data": {}}).encode(), Refusal.MALFORMED),
        (signed(), b"\xff\xfe", Refusal.MALFORMED),
        (signed(), b"{" + b" " * 300_000 + b"}", Refusal.MALFORMED),
    ],
    ids=[
        "missing", "no-signature", "forged", "other-task", "re-dated", "replayed", "future",
        "not-json", "not-object", "no-task-id", "not-utf8", "huge",
    ],
)  # fmt: skip
def test_refusals(headers: dict[str, str], body: bytes, reason: Refusal) -> None:
    verdict = verify_kie_callback(headers, body, KEY, NOW, max_age=300)
    assert isinstance(verdict, CallbackRefused) and verdict.reason is reason
    assert verdict.http_status == (400 if reason is Refusal.MALFORMED else 401)


def test_without_a_key_only_the_body_counts() -> None:
    assert verify_kie_callback({}, BODY, None, NOW) == CallbackAccepted("task_1", 200, json.loads(BODY))
    refused = verify_kie_callback({}, b"{}", None, NOW)
    assert isinstance(refused, CallbackRefused) and refused.http_status == 400


def test_veo_and_runway_shapes_are_read() -> None:
    veo = {"code": 200, "data": {"taskId": "veo_1", "info": {"resultUrls": ["u"]}}}
    runway = {"code": 200, "data": {"task_id": "runway_1", "video_url": "u"}}
    for body, task in ((veo, "veo_1"), (runway, "runway_1")):
        verdict = verify_kie_callback(signed(task), json.dumps(body), KEY, NOW)
        assert isinstance(verdict, CallbackAccepted) and verdict.task_id == task


@given(st.binary(max_size=2000), st.dictionaries(st.text(max_size=30), st.text(max_size=60), max_size=4))
def test_any_input_is_answered_never_raised(body: bytes, headers: dict[str, str]) -> None:
    verdict = verify_kie_callback(headers, body, KEY, NOW)
    assert isinstance(verdict, CallbackRefused)  # nothing random carries a valid signature


def test_settings_name_the_callback_url_and_the_patience() -> None:
    from vidgen.core.settings import load_settings

    plain = load_settings(_env_file=None)
    assert plain.kie_callback_url("vg-1-abc") is None  # no base URL: polling only
    assert plain.rate_limit_patience_seconds == plain.provider_rate_window_seconds + 2
    assert plain.kie_status_rate_per_second == 10
    wired = load_settings(
        _env_file=None, kie_callback_base_url="https://vidgen.example/", kie_rate_limit_patience_seconds=5
    )
    assert wired.kie_callback_url("vg-1-abc") == "https://vidgen.example/kie/callback/vg-1-abc"
    assert wired.rate_limit_patience_seconds == 5

"""KIE.AI's task callbacks, checked (issue 13, point 2). A callback is only a hint: it names a
task that may be done, and the operator confirms the task's state with a status request before
acting, so a forged or replayed callback changes nothing. This module only decides whether a
callback is worth that status request.

KIE.AI signs callbacks when the account has a webhook key: `X-Webhook-Timestamp` (seconds since
the epoch) and `X-Webhook-Signature` = base64(HMAC-SHA256(`taskId + "." + timestamp`, key)).

How the operator calls it (its HTTP endpoint, `vidgen.operator.kie_callbacks`, does):

    verdict = verify_kie_callback(request.headers, await request.read(), key, time.time(), 300)
    if isinstance(verdict, CallbackRefused):
        return Response(status=verdict.http_status)       # 400 malformed, 401 signature/stale
    ... verdict.task_id ...                              # a hint: confirm with recordInfo

Pure: no clock (`now` is passed), no I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

TIMESTAMP_HEADER = "x-webhook-timestamp"
SIGNATURE_HEADER = "x-webhook-signature"
#: a callback older (or further in the future) than this is refused as stale, by default
DEFAULT_MAX_AGE_SECONDS = 300.0
#: bodies longer than this are not read as callbacks (KIE.AI's are a few KiB)
MAX_BODY_BYTES = 256 * 1024


class Refusal(StrEnum):
    MALFORMED = "malformed"  # not JSON, or no task id
    MISSING_SIGNATURE = "missing_signature"
    BAD_SIGNATURE = "bad_signature"
    STALE = "stale"  # timestamp outside now ± max_age (a replay, or a clock far off)


@dataclass(frozen=True)
class CallbackRefused:
    reason: Refusal
    detail: str = ""

    @property
    def http_status(self) -> int:
        return 400 if self.reason is Refusal.MALFORMED else 401


@dataclass(frozen=True)
class CallbackAccepted:
    """A well-formed (and, with a key, authentic and fresh) callback for `task_id`."""

    task_id: str
    #: the body's `code` (200 success, 501 failed, …; None if absent): a hint only
    code: int | None = None
    body: Mapping[str, Any] = field(default_factory=dict)


def sign(task_id: str, timestamp: str, key: str) -> str:
    """KIE.AI's signature for a callback (what the fakes send and the verifier expects)."""
    digest = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value).strip()
    return None


def _task_id(body: Mapping[str, Any]) -> str | None:
    data = body.get("data")
    for holder in (data if isinstance(data, Mapping) else {}, body):
        for name in ("taskId", "task_id"):
            value = holder.get(name)
            if isinstance(value, str) and value.strip() and len(value) <= 200:
                return value.strip()
    return None


def _seconds(timestamp: str) -> float | None:
    try:
        value = float(timestamp)
    except ValueError:
        return None
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        return None
    return value / 1000.0 if value > 1e11 else value  # milliseconds are read too


def verify_kie_callback(
    headers: Mapping[str, str],
    body: bytes | str,
    key: str | None,
    now: float,
    max_age: float = DEFAULT_MAX_AGE_SECONDS,
) -> CallbackAccepted | CallbackRefused:
    """The callback's task id, or why it is refused. Without a `key` (the account signs
    nothing) only the body is checked; with one, the signature must be there and match
    (constant-time), and the timestamp must be within `max_age` seconds of `now`."""
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > MAX_BODY_BYTES:
        return CallbackRefused(Refusal.MALFORMED, f"body of {len(raw)} bytes")
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return CallbackRefused(Refusal.MALFORMED, "body is not JSON")
    if not isinstance(parsed, dict):
        return CallbackRefused(Refusal.MALFORMED, "body is not a JSON object")
    task_id = _task_id(parsed)
    if task_id is None:
        return CallbackRefused(Refusal.MALFORMED, "no taskId")
    code = parsed.get("code")
    accepted = CallbackAccepted(task_id, code if isinstance(code, int) else None, parsed)
    if not key:
        return accepted
    timestamp = _header(headers, TIMESTAMP_HEADER)
    signature = _header(headers, SIGNATURE_HEADER)
    if not timestamp or not signature:
        return CallbackRefused(Refusal.MISSING_SIGNATURE, "no X-Webhook-Timestamp/X-Webhook-Signature")
    expected = sign(task_id, timestamp, key)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return CallbackRefused(Refusal.BAD_SIGNATURE, "signature does not match")
    at = _seconds(timestamp)
    if at is None:
        return CallbackRefused(Refusal.BAD_SIGNATURE, "timestamp is not a number")
    if abs(now - at) > max_age:
        return CallbackRefused(Refusal.STALE, f"timestamp {now - at:.0f} s away from now")
    return accepted

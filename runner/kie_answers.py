"""Reading KIE.AI's answers: every endpoint wraps its payload in `{code, msg|message, data}`, and
some errors arrive with HTTP 200, so the body's `code` is read first. Shared by every family's
adapter and the status client."""

from __future__ import annotations

from typing import Any

import httpx

from vidgen.core.errors import ErrorClass, ProviderError, classify_failure

from .provider import raise_failure


def message(body: dict[str, Any]) -> str:
    return str(body.get("msg") or body.get("message") or "")


def body_code(body: dict[str, Any]) -> int | None:
    try:
        return int(body["code"]) if body.get("code") is not None else None
    except (TypeError, ValueError):
        return None


def check_answer(resp: httpx.Response) -> dict[str, Any]:
    """The `data` of a KIE.AI answer, or a ProviderError classified from status and body."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        if resp.status_code >= 400:
            raise_failure(classify_failure(http_status=resp.status_code, message=resp.text[:200]))
        raise ProviderError(ErrorClass.UNKNOWN, "bad_response", f"HTTP {resp.status_code}: not a JSON object")
    code = body_code(body)
    if resp.status_code >= 400 or code not in (None, 200):
        raise_failure(classify_failure(http_status=resp.status_code, code=code, message=message(body)))
    data = body.get("data")
    return data if isinstance(data, dict) else {"value": data}

import socket

import httpx
import openai
import pytest

from vidgen.core.errors import (
    ErrorClass,
    GiveUp,
    ProviderError,
    Retry,
    RetryLimits,
    backoff,
    classify,
    classify_failure,
    policy,
)

E = ErrorClass

# One row per line of the KIE.AI error table (reference/kie-ai.md).
CODE_ROWS = [
    (401, "Unauthorized", E.BILLING),
    (402, "Insufficient credits", E.BILLING),
    (404, "Not found", E.UNKNOWN),
    (422, "image_urls: the image contains a public figure", E.USER_VIOLATION),
    (422, "prompt is required", E.USER_VIOLATION),
    (422, "aspect_ratio must be portrait or landscape", E.UNKNOWN),
    (429, "Rate limited", E.RATE_LIMIT),
    (433, "Sub-key usage cap reached", E.BILLING),
    (455, "Service under maintenance", E.TEMPORARY),
    (500, "Internal error", E.TEMPORARY),
    (501, "Generation failed: content policy violation", E.USER_VIOLATION),
    (501, "Your image was flagged as unsafe", E.USER_VIOLATION),
    (501, "Face detected: celebrity images are not supported", E.USER_VIOLATION),
    (501, "Generation failed: internal worker crashed", E.TEMPORARY),
    (505, "Feature disabled", E.BILLING),
]


@pytest.mark.parametrize(("code", "message", "expected"), CODE_ROWS)
def test_body_code_rows(code: int, message: str, expected: ErrorClass) -> None:
    assert classify(code=code, message=message) is expected


@pytest.mark.parametrize(("code", "message", "expected"), CODE_ROWS)
def test_http_200_with_error_code_in_body(code: int, message: str, expected: ErrorClass) -> None:
    # KIE.AI sends some errors with HTTP 200: the body's code decides.
    assert classify(http_status=200, code=code, message=message) is expected


@pytest.mark.parametrize("status", [500, 502, 503, 504, 520])
def test_http_5xx_without_body_code_is_temporary(status: int) -> None:
    assert classify(http_status=status) is E.TEMPORARY


def test_http_429_status_is_rate_limit() -> None:
    assert classify(http_status=429) is E.RATE_LIMIT


def test_body_code_wins_over_http_status() -> None:
    assert classify(http_status=500, code=402) is E.BILLING


def test_success_code_without_error_is_unknown() -> None:
    assert classify(http_status=200, code=200) is E.UNKNOWN


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("eof"),
        openai.APIConnectionError(request=httpx.Request("POST", "http://x")),
        openai.APITimeoutError(request=httpx.Request("POST", "http://x")),
        ConnectionResetError(),
        socket.gaierror(),
        TimeoutError(),
        TimeoutError(),
    ],
)
def test_network_exceptions_are_temporary(exc: BaseException) -> None:
    assert classify(exception=exc) is E.TEMPORARY


def test_timeout_exception_code() -> None:
    assert classify_failure(exception=httpx.ReadTimeout("slow")).code == "timeout"
    assert classify_failure(exception=httpx.ConnectError("x")).code == "network"


def test_other_exception_is_unknown() -> None:
    assert classify(exception=ValueError("boom")) is E.UNKNOWN


def test_provider_error_keeps_its_class() -> None:
    f = classify_failure(exception=ProviderError(E.BILLING, "provider_402", "no money"))
    assert (f.error_class, f.code, f.detail) == (E.BILLING, "provider_402", "no money")


LIMITS = RetryLimits(max_attempts=3, rate_limit_max_attempts=4, base_delay=10, max_delay=100)


@pytest.mark.parametrize(
    ("cls", "attempt", "expected"),
    [
        (E.TEMPORARY, 1, Retry(10)),
        (E.TEMPORARY, 2, Retry(20)),
        (E.TEMPORARY, 3, GiveUp("error.temporary")),
        (E.UNKNOWN, 1, Retry(10)),
        (E.UNKNOWN, 3, GiveUp("error.unknown")),
        (E.RATE_LIMIT, 1, Retry(10)),
        (E.RATE_LIMIT, 3, Retry(40)),
        (E.RATE_LIMIT, 4, GiveUp("error.rate_limit")),
        (E.USER_VIOLATION, 1, GiveUp("error.user_violation")),
        (E.BILLING, 1, GiveUp("error.billing")),
    ],
)
def test_policy_rows(cls: ErrorClass, attempt: int, expected: object) -> None:
    assert policy(cls, attempt, LIMITS) == expected


def test_rate_limit_uses_limiter_delay() -> None:
    assert policy(E.RATE_LIMIT, 1, LIMITS, rate_limit_delay=7.5) == Retry(7.5)
    assert policy(E.RATE_LIMIT, 1, LIMITS, rate_limit_delay=1000) == Retry(100)


def test_backoff_is_capped() -> None:
    assert [backoff(n, LIMITS) for n in range(1, 6)] == [10, 20, 40, 80, 100]


def test_every_give_up_refunds() -> None:
    for cls in E:
        decision = policy(cls, 99, LIMITS)
        assert isinstance(decision, GiveUp) and decision.refund

"""Issue 12, point 1: a createTask refused with 429 is not a failure. KIE.AI neither keeps nor
bills a refused request, so the attempt waits (jittered, bounded by about one provider window)
and tries again; only a refusal that outlasts the budget ends the attempt as RATE_LIMIT. Faults
are count-based and the sleep is injected: no test waits for real time."""

from __future__ import annotations

import json
import random

import pytest

from tests.fakes.kie import FakeKie
from vidgen.core.errors import ErrorClass
from vidgen.core.models import photo_key, video_key
from vidgen.core.result import EXIT_OK, EXIT_RETRYABLE, decode, encode
from vidgen.runner.pipeline import RunRequest, run_generation
from vidgen.runner.rate_patience import RateLimitPatience

from .conftest import NAME


class FakeSleep:
    """Records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def request() -> RunRequest:
    return RunRequest(name=NAME, photo=photo_key(NAME))


@pytest.mark.parametrize("http_status", [200, 429])  # KIE.AI puts 429 in the body, or in HTTP
async def test_refusals_within_the_budget_are_absorbed(
    http_status: int, kie: FakeKie, storage, make_settings
) -> None:
    kie.fail("createTask", times=3, code=429, msg="Rate limited", http_status=http_status)
    sleep = FakeSleep()
    settings = make_settings(kie)
    patience = RateLimitPatience.from_settings(settings, sleep=sleep, rng=random.Random(7))

    result = await run_generation(request(), settings, storage, patience=patience)

    assert result.ok and result.exit_code == EXIT_OK, result
    assert result.rateLimitRetries == 3
    assert kie.create_calls == 4 and len(kie.tasks) == 1  # one task made, three refusals
    assert len(kie.calls("upload")) == 1  # the photo is uploaded once, not once per try
    assert len(sleep.waits) == 3 and all(w > 0 for w in sleep.waits)
    assert sum(sleep.waits) <= settings.rate_limit_patience_seconds
    assert storage.exists(video_key(NAME))
    line = json.loads(encode(result))
    assert line["rateLimitRetries"] == 3
    assert decode(encode(result)) == result


async def test_a_refusal_that_outlasts_the_budget_is_rate_limit(kie: FakeKie, storage, make_settings) -> None:
    kie.fail("createTask", times=10_000, code=429, msg="Rate limited")
    sleep = FakeSleep()
    settings = make_settings(kie, provider_rate_window_seconds=10.0)
    assert settings.rate_limit_patience_seconds == 12.0  # default: one window + 2 s
    patience = RateLimitPatience.from_settings(settings, sleep=sleep, rng=random.Random(3))

    result = await run_generation(request(), settings, storage, patience=patience)

    assert (result.error_class, result.code, result.exit_code) == (
        ErrorClass.RATE_LIMIT,
        "provider_429",
        EXIT_RETRYABLE,
    )
    # every refusal but the last was waited out; the waits fill the budget and never pass it
    assert result.rateLimitRetries == len(sleep.waits) == kie.create_calls - 1 >= 3
    assert sum(sleep.waits) == pytest.approx(12.0)
    assert max(sleep.waits) <= 10.0 / 2
    assert not kie.tasks and not storage.exists(video_key(NAME))
    decoded = decode(encode(result))
    assert decoded is not None and decoded.rateLimitRetries == result.rateLimitRetries


async def test_the_waits_are_jittered(kie: FakeKie, storage, make_settings) -> None:
    settings = make_settings(kie)
    waits = []
    for seed in (1, 2):
        sleep = FakeSleep()
        patience = RateLimitPatience.from_settings(settings, sleep=sleep, rng=random.Random(seed))
        kie.fail("createTask", times=2, code=429, msg="Rate limited")
        storage.delete(video_key(NAME))
        storage.delete(f"checkpoints/{NAME}.json")
        assert (await run_generation(request(), settings, storage, patience=patience)).ok
        waits.append(sleep.waits)
    assert waits[0] != waits[1]


async def test_zero_patience_ends_at_the_first_refusal(kie: FakeKie, storage, make_settings) -> None:
    kie.fail("createTask", times=1, code=429, msg="Rate limited")
    sleep = FakeSleep()
    settings = make_settings(kie, kie_rate_limit_patience_seconds=0)
    patience = RateLimitPatience.from_settings(settings, sleep=sleep)
    result = await run_generation(request(), settings, storage, patience=patience)
    assert result.error_class is ErrorClass.RATE_LIMIT and result.rateLimitRetries == 0
    assert sleep.waits == [] and kie.create_calls == 1


async def test_other_errors_are_not_waited_out(kie: FakeKie, storage, make_settings) -> None:
    kie.fail("createTask", times=1, code=402, msg="Insufficient credits")
    sleep = FakeSleep()
    settings = make_settings(kie)
    result = await run_generation(
        request(), settings, storage, patience=RateLimitPatience.from_settings(settings, sleep=sleep)
    )
    assert result.error_class is ErrorClass.BILLING and result.rateLimitRetries == 0
    assert sleep.waits == [] and kie.create_calls == 1

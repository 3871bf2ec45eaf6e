"""Patience with KIE.AI's rate limit (issue 12, point 1): a task creation refused with 429 was
neither kept nor paid for, so it is tried again within the same attempt — jittered waits whose
total stays within about one provider window (`kie_rate_limit_patience_seconds`, by default
`provider_rate_window_seconds` + 2). Only a refusal that outlasts that budget ends the attempt
as RATE_LIMIT. `retries` counts the refusals absorbed (each one followed by another try); the
runner reports it as `rateLimitRetries` on its result line, success or failure.

Sleep and randomness are injected (tenacity's `sleep=`), so tests run on counts, not time:

    patience = RateLimitPatience(budget_seconds=12, sleep=fake_sleep, rng=random.Random(1))
    task_id = await patience.call(lambda: post_create_task())
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from vidgen.core.errors import ErrorClass, ProviderError
from vidgen.core.logging import get_logger
from vidgen.core.settings import Settings

T = TypeVar("T")
#: float comparisons of summed waits against the budget
EPSILON = 1e-9


def is_rate_limited(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.error_class is ErrorClass.RATE_LIMIT


@dataclass
class RateLimitPatience:
    budget_seconds: float
    #: the first wait's ceiling; each next one doubles, up to `max_wait_seconds`
    first_wait_seconds: float = 1.0
    max_wait_seconds: float = 4.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)
    #: refusals absorbed so far (over every call made through this object)
    retries: int = 0
    #: every wait taken, in seconds (what a test or a log line can check)
    waits: list[float] = field(default_factory=list)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
    ) -> RateLimitPatience:
        return cls(
            budget_seconds=settings.rate_limit_patience_seconds,
            first_wait_seconds=settings.kie_rate_limit_first_wait_seconds,
            max_wait_seconds=max(
                settings.kie_rate_limit_first_wait_seconds, settings.provider_rate_window_seconds / 2
            ),
            sleep=sleep or asyncio.sleep,
            rng=rng or random.Random(),
        )

    def _wait(self, state: RetryCallState) -> float:
        """Full jitter over a doubling ceiling, cut to what is left of the budget."""
        ceiling = min(self.max_wait_seconds, self.first_wait_seconds * 2 ** (state.attempt_number - 1))
        wait = ceiling * (0.5 + 0.5 * self.rng.random())
        return max(0.0, min(wait, self.budget_seconds - state.idle_for))

    def _stop(self, state: RetryCallState) -> bool:
        return state.idle_for >= self.budget_seconds - EPSILON

    def _before_sleep(self, state: RetryCallState) -> None:
        self.retries += 1
        wait = state.next_action.sleep if state.next_action else 0.0
        self.waits.append(wait)
        get_logger("vidgen.runner").warning(
            "rate_limited_retry", refusals=self.retries, wait_seconds=round(wait, 3)
        )

    async def call(self, step: Callable[[], Awaitable[T]]) -> T:
        """`step()`, tried again while it is refused with RATE_LIMIT and the budget lasts."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_rate_limited),
            wait=self._wait,
            stop=self._stop,
            sleep=self.sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        ):
            with attempt:
                return await step()
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

"""Status requests from the operator process (issue 13, point 2): one `KieStatusClient` per
KIE.AI API key, every request paced by that key's `core.poll_budget.StatusBudget` (KIE.AI
allows about 10 status requests per second per key), through the same family adapters as the
runner (`kie_family`), so a status answer reads the same everywhere.

- `status(task_id, model)`: one request, waiting for the budget if it is spent — what the
  operator calls to confirm a callback hint before it runs collect;
- `poll_due(models)`: the planner's due tasks (soonest-expected first, within the budget),
  queried together; finished ones leave the planner. `models` maps task id → model (the
  family); a task the map does not know is dropped from the planner.

    client = KieStatusClient(settings)                       # one per API key
    client.planner.add(task_id, line.submittedAt, line.expectedSeconds)
    done = await client.poll_due({task_id: model, ...})      # {task_id: TaskStatus} not pending
    ...
    await client.aclose()

Clock and sleep are injected (epoch seconds: `submittedAt` is one), so tests count requests
against a virtual clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

import httpx

from vidgen.core.errors import ProviderError, classify_failure
from vidgen.core.logging import get_logger
from vidgen.core.poll_budget import StatusBudget, StatusPollPlanner
from vidgen.core.settings import Settings

from .kie_answers import check_answer
from .kie_family import family_of
from .provider import TaskState, TaskStatus


class KieStatusClient:
    def __init__(
        self,
        settings: Settings,
        *,
        api_key: str | None = None,
        budget: StatusBudget | None = None,
        planner: StatusPollPlanner | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        key = api_key or settings.secret("kie_api_key")
        if not key:
            settings.require("kie_api_key")
        self.budget = budget or StatusBudget(settings.kie_status_rate_per_second, 1.0)
        self.planner = planner or StatusPollPlanner(self.budget)
        if self.planner.budget is not self.budget:
            raise ValueError("the planner must share the client's budget")
        self.clock = clock
        self.sleep = sleep
        self.log = get_logger("vidgen.kie_status")
        self.api = httpx.AsyncClient(
            base_url=settings.kie_base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(settings.kie_request_timeout_seconds, connect=10.0),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self.api.aclose()

    async def _get(self, task_id: str, model: str) -> TaskStatus:
        family = family_of(model)
        try:
            resp = await self.api.get(family.status_path, params={"taskId": task_id})
        except httpx.HTTPError as exc:
            failure = classify_failure(exception=exc, message=str(exc)[:200])
            raise ProviderError(failure.error_class, failure.code, failure.detail) from None
        return family.read_status(check_answer(resp))

    async def status(self, task_id: str, model: str) -> TaskStatus:
        """One status request (after waiting for the budget). ProviderError on a bad answer."""
        while (wait := self.budget.take(self.clock())) > 0:
            await self.sleep(wait)
        return await self._get(task_id, model)

    async def poll_due(self, models: Mapping[str, str], now: float | None = None) -> dict[str, TaskStatus]:
        """Ask about the tasks due now (within the budget); the finished ones (success or
        failure) are returned and leave the planner. A failed request leaves its task planned."""
        now = self.clock() if now is None else now
        due = self.planner.plan(now)
        known = [t for t in due if t in models]
        for task_id in set(due) - set(known):
            self.planner.remove(task_id)
        answers = await asyncio.gather(*(self._get(t, models[t]) for t in known), return_exceptions=True)
        done: dict[str, TaskStatus] = {}
        for task_id, answer in zip(known, answers, strict=True):
            if isinstance(answer, BaseException):
                self.log.warning("status_request_failed", task_id=task_id, error=str(answer)[:200])
                continue
            if answer.state is not TaskState.PENDING:
                self.planner.remove(task_id)
                done[task_id] = answer
        return done

"""Fixtures for the fault-injection tests: the operator's harness (kopf on kmock, fake Telegram,
PostgreSQL; tests/integration/operator/conftest.py) with the real runner behind a simulated
kubelet and the fake KIE.AI (sim.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import structlog

from tests.integration.operator.conftest import (  # noqa: F401  (fixtures)
    Cluster,
    OperatorEnv,
    kmock_options,
    operator_env,
    until,
)
from vidgen.core.models import GenerationSpec
from vidgen.core.settings import Settings
from vidgen.storage import FileStorage

from .sim import (
    ProviderKie,
    RunnerKubelet,
    all_settled,
    money_problems,
    outcome_problems,
    runner_settings,
    seed_request,
)

#: Timings of the fault tests: a fast provider window (the operator's matches the fake's), short
#: retry delays, and quick resyncs so a lost event costs well under a second.
FAULT_SETTINGS: dict[str, Any] = {
    "max_concurrency": 6,
    "provider_rate_limit": 20,
    "provider_rate_window_seconds": 0.5,
}


@dataclass
class FaultEnv:
    env: OperatorEnv
    kie: ProviderKie
    storage: FileStorage
    runner: Settings

    @property
    def cluster(self) -> Cluster:
        return self.env.cluster

    def kubelet(self, **kwargs: Any) -> RunnerKubelet:
        return RunnerKubelet(self.cluster, self.runner, self.storage, **kwargs)

    async def seed(self, user_id: int, token: str, **kwargs: Any) -> GenerationSpec:
        return await seed_request(self.env.sessions, self.storage, user_id, token, **kwargs)

    async def request(self, user_id: int, token: str, **kwargs: Any) -> GenerationSpec:
        spec = await self.seed(user_id, token, **kwargs)
        await self.cluster.create_vg(spec)
        return spec

    async def settled(self, names: list[str], timeout: float = 60.0) -> None:
        """Wait (bounded) until every generation is Delivered, or Failed with its refund and
        notice handled."""
        try:
            await until(lambda: all_settled(self.cluster, names), timeout=timeout, what="all settled")
        except AssertionError:
            raise AssertionError(
                f"not settled in {timeout} s: {outcome_problems(self.cluster, names)}"
            ) from None

    async def check(self, names: list[str]) -> None:
        """The invariants every fault test ends with."""
        assert outcome_problems(self.cluster, names) == []
        delivered = {n: self.cluster.phase(n) == "Delivered" for n in names}
        assert await money_problems(self.env.sessions, delivered) == []


@pytest.fixture(autouse=True)
def plain_tracebacks() -> Iterator[None]:
    """Faults make the code under test log many exceptions; structlog's default console output
    renders each with rich, locals included, which takes about a second apiece. Plain tracebacks
    here (the list is shared by every logger already bound, so it is edited in place)."""
    processors = structlog.get_config()["processors"]
    saved = list(processors)
    for i, processor in enumerate(processors):
        if isinstance(processor, structlog.dev.ConsoleRenderer):
            processors[i] = structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
    try:
        yield
    finally:
        processors[:] = saved


@pytest.fixture
async def fault_env(operator_env: OperatorEnv) -> AsyncIterator[FaultEnv]:  # noqa: F811
    env = operator_env
    env.settings = Settings.model_validate({**env.settings.model_dump(), **FAULT_SETTINGS})
    async with ProviderKie(
        latency=(0.2, 0.5),
        rate_limit=env.settings.provider_rate_limit,
        rate_window=env.settings.provider_rate_window_seconds,
        seed=9,
    ) as kie:
        yield FaultEnv(env, kie, FileStorage(env.storage_dir), runner_settings(env.settings, kie))

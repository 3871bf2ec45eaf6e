"""Fixtures for the operator-side KIE.AI building blocks: the fake KIE.AI (a webhook key set)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.kie import FakeKie


@pytest.fixture
async def kie() -> AsyncIterator[FakeKie]:
    async with FakeKie(rate_limit=10_000) as fake:
        yield fake

"""Bounded polling for tests: wait until a condition holds, or fail with what was awaited.

The bound is only there so a test that is really stuck fails with a message instead of hanging:
it never decides a pass. A machine whose cores are busy (other test runs, CPU burners) can be
several times slower, so every bound is stretched by `SLACK` (VIDGEN_TEST_SLACK, default 4);
a condition that holds returns at once, so the slack costs nothing when all is well."""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Callable
from typing import Any

SLACK = float(os.environ.get("VIDGEN_TEST_SLACK", "4"))


async def until(
    predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition", interval: float = 0.02
) -> Any:
    """Poll `predicate` (sync or async) until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout * SLACK
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout * SLACK:g} s waiting for {what}")
        await asyncio.sleep(interval)

"""Fixtures for the runner's integration tests: a photo in file storage, the fake KIE.AI and
OpenAI servers, and settings pointing at them (fast polling, small sandbox videos)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.kie import FakeKie
from tests.fakes.openai_api import FakeOpenAI
from vidgen.core.models import photo_key
from vidgen.core.settings import Settings, load_settings
from vidgen.storage import FileStorage

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
NAME = "vg-42-abc123"

#: fast and small: polling every 50 ms, retries without real waits, ~1 s sandbox clips
FAST: dict[str, Any] = {
    "kie_poll_interval_seconds": 0.05,
    "kie_poll_max_interval_seconds": 0.2,
    "kie_retry_wait_seconds": 0.01,
    "kie_request_timeout_seconds": 5.0,
    "kie_deadline_seconds": 20.0,
    "openai_timeout_seconds": 2.0,
    "sandbox_short_side": 96,
    "sandbox_fps": 8,
    "sandbox_max_seconds": 1.0,
}


@pytest.fixture
def storage(tmp_path: Path) -> FileStorage:
    store = FileStorage(tmp_path / "data")
    store.put(photo_key(NAME), (EXAMPLES / "cat.jpg").read_bytes(), "image/jpeg")
    return store


@pytest.fixture
async def kie() -> AsyncIterator[FakeKie]:
    async with FakeKie() as fake:
        yield fake


@pytest.fixture
async def openai_fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(kie: FakeKie | None = None, openai: FakeOpenAI | None = None, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "_env_file": None,
            "storage_url": f"file://{tmp_path / 'data'}",
            "kie_api_key": None,
            "openai_api_key": None,
            **FAST,
        }
        if kie is not None:
            values.update(kie_api_key=kie.api_key, kie_base_url=kie.url, kie_upload_url=kie.url)
        if openai is not None:
            values.update(openai_api_key=openai.api_key, openai_base_url=openai.url)
        values.update(overrides)
        return load_settings(**values)

    return make

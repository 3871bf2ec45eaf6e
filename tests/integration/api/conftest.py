"""The HTTP API in-process: the FastAPI app over a migrated database (SQLite, or PostgreSQL with
`pg_api`), a folder storage, a launcher and a canceller that record what they are asked, and an
httpx client on the app (ASGI transport: no socket)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from vidgen.api.app import ApiContext, create_app
from vidgen.api.links import LinkSigner
from vidgen.api.netguard import UrlPolicy
from vidgen.api.ratelimit import RateLimiter
from vidgen.api.service import ApiService
from vidgen.api.webhooks import WebhookDispatcher, WebhookSender
from vidgen.core.db.api_keys import NewKey, create_key
from vidgen.core.db.engine import SessionMaker, transaction
from vidgen.core.db.sqla_ledger import balance_of
from vidgen.core.models import GenerationSpec
from vidgen.core.settings import Settings
from vidgen.storage import FileStorage

ROOT = Path(__file__).resolve().parents[3]
CAT = (ROOT / "examples" / "cat.jpg").read_bytes()


@dataclass
class RecordingLauncher:
    launched: list[GenerationSpec] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    async def launch(self, spec: GenerationSpec) -> None:
        self.launched.append(spec)

    async def cancel(self, name: str) -> None:
        self.cancelled.append(name)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Api:
    client: httpx.AsyncClient
    sessions: SessionMaker
    settings: Settings
    launcher: RecordingLauncher
    storage: FileStorage
    ctx: ApiContext
    clock: Clock

    async def key(self, user_id: int, free_credits: int = 2) -> NewKey:
        async with transaction(self.sessions) as session:
            return await create_key(session, user_id, free_credits=free_credits)

    async def balance(self, user_id: int) -> int:
        async with self.sessions() as session:
            return await balance_of(session, user_id)

    async def post(
        self, key: str | None, photo: bytes | None = CAT, headers: dict[str, str] | None = None, **fields: Any
    ) -> httpx.Response:
        hdrs = dict(headers or {})
        if key is not None:
            hdrs["Authorization"] = f"Bearer {key}"
        files = {"photo": ("cat.jpg", photo, "image/jpeg")} if photo is not None else None
        data = {k: str(v) for k, v in fields.items()}
        if files is None:
            return await self.client.post("/v1/generations", data=data or {"prompt": ""}, headers=hdrs)
        return await self.client.post("/v1/generations", data=data, files=files, headers=hdrs)

    async def get(self, key: str, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers={"Authorization": f"Bearer {key}"})


def api_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'vidgen.db'}",
        "storage_url": f"file://{tmp_path / 'data'}",
        "api_rate_limit": 1000,
        "webhook_retry_delays_seconds": [5, 60],
        **overrides,
    }
    return Settings(_env_file=None, **values)


async def make_api(sessions: SessionMaker, tmp_path: Path, **overrides: Any) -> AsyncIterator[Api]:
    settings = api_settings(tmp_path, **overrides)
    storage = FileStorage(str(tmp_path / "data"))
    launcher = RecordingLauncher()
    clock = Clock()
    policy = UrlPolicy(allow_loopback=True)
    links = LinkSigner(b"test-link-secret", settings.api_link_ttl_seconds)
    service = ApiService(settings, sessions, storage, launcher, launcher, links, policy)
    sender = WebhookSender(5.0, policy)
    ctx = ApiContext(
        service=service,
        sessions=sessions,
        storage=storage,
        limiter=RateLimiter(settings.api_rate_limit, settings.api_rate_window_seconds, clock),
        dispatcher=WebhookDispatcher(settings, sessions, sender),
        sender=sender,
    )
    app = create_app(ctx)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield Api(client, sessions, settings, launcher, storage, ctx, clock)


@pytest.fixture
async def api(sqlite_sessions: SessionMaker, tmp_path: Path) -> AsyncIterator[Api]:
    async for value in make_api(sqlite_sessions, tmp_path):
        yield value


@pytest.fixture
async def pg_api(pg_sessions: SessionMaker, tmp_path: Path) -> AsyncIterator[Api]:
    async for value in make_api(pg_sessions, tmp_path):
        yield value

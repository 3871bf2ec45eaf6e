"""`create_dispatcher`: the routers, the middlewares, and the services the handlers receive by
name (`settings`, `sessions`, `generation`, `payments`, `accounts`, `history`, `admin`).

Conversation state lives in Redis (aiogram's RedisStorage) when `VIDGEN_REDIS_URL` is set, so
several webhook replicas can share a conversation; in memory otherwise.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage

from vidgen.core.db.engine import SessionMaker
from vidgen.core.ports import GenerationLauncher, Storage
from vidgen.core.settings import Settings

from . import errors
from .i18n import UserLanguageMiddleware
from .middlewares import (
    BlockedUserMiddleware,
    DbSessionMiddleware,
    MetricsMiddleware,
    ThrottlingMiddleware,
    UserMiddleware,
)
from .response_models import keep_response_models
from .routers import all_routers
from .services import AccountService, AdminService, GenerationService, HistoryService, PaymentService
from .services.referrals import ReferralService


def fsm_storage_for(settings: Settings) -> BaseStorage:
    """RedisStorage when `redis_url` is set (state survives restarts and is shared by replicas),
    else MemoryStorage."""
    if settings.redis_url:
        from aiogram.fsm.storage.base import DefaultKeyBuilder
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(
            settings.redis_url,
            key_builder=DefaultKeyBuilder(prefix="vidgen:fsm"),
            state_ttl=7 * 24 * 3600,
            data_ttl=7 * 24 * 3600,
        )
    return MemoryStorage()


def create_dispatcher(
    settings: Settings,
    *,
    sessions: SessionMaker,
    storage: Storage,
    launcher: GenerationLauncher,
    fsm_storage: BaseStorage | None = None,
    generation: GenerationService | None = None,
    **extra: Any,
) -> Dispatcher:
    """A Dispatcher with every router and middleware. `storage` is the blob storage for photos and
    videos; `launcher` starts a confirmed generation (Kubernetes in cluster mode, the local
    controller in local mode); `fsm_storage` overrides the conversation-state store;
    `generation` replaces the GenerationService (tests inject token/clock); `extra` is passed to
    handlers as more workflow data."""
    keep_response_models()
    dp = Dispatcher(
        storage=fsm_storage if fsm_storage is not None else fsm_storage_for(settings),
        name="vidgen",
        settings=settings,
        sessions=sessions,
        blob_storage=storage,
        launcher=launcher,
        generation=generation or GenerationService(settings, storage, launcher),
        payments=PaymentService(settings),
        accounts=AccountService(settings),
        history=HistoryService(settings, storage),
        admin=AdminService(settings),
        referral=ReferralService(settings),
        **extra,
    )
    dp.update.outer_middleware(MetricsMiddleware())
    dp.update.outer_middleware(DbSessionMiddleware(sessions))
    dp.update.outer_middleware(UserMiddleware(settings))
    dp.update.outer_middleware(UserLanguageMiddleware())
    dp.update.outer_middleware(BlockedUserMiddleware())
    dp.update.outer_middleware(ThrottlingMiddleware(settings.throttle_seconds))
    dp.include_routers(*(_adopt(router) for router in [errors.router, *all_routers()]))
    return dp


def _adopt(router: Router) -> Router:
    """Feature routers are module-level singletons and aiogram lets a router have one parent. A
    later dispatcher in the same process (a second replica in a test, an in-process restart)
    takes them over: only the parent pointer moves, which matters solely for router-level inner
    middlewares (there are none; all middlewares sit on the update level)."""
    router._parent_router = None
    return router


def create_bot(settings: Settings) -> Bot:
    """The aiogram Bot for `VIDGEN_TELEGRAM_TOKEN`, on `VIDGEN_TELEGRAM_API_URL` when set (a local
    Bot API server, or the fake in tests)."""
    settings.require("telegram_token")
    token = settings.secret("telegram_token")
    assert token is not None
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
        if settings.telegram_api_url
        else None
    )
    return Bot(token, session=session, default=DefaultBotProperties(link_preview_is_disabled=True))

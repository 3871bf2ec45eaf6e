"""Update middlewares, outermost first: metrics → DB session (update id claimed) → user upsert →
i18n (`vidgen.bot.i18n`) → blocked users → throttling. Each puts what it knows into the handler data (`session`, `user`, `lang`, `is_new_user`)."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.types import User as TgUser
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db import updates
from vidgen.core.db.engine import SessionMaker
from vidgen.core.db.users import ensure_user
from vidgen.core.logging import get_logger
from vidgen.core.settings import Settings
from vidgen.core.texts import language_for, t

from .metrics import DUPLICATE_UPDATES, ERRORS, UPDATE_DURATION, UPDATES

log = get_logger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def _is_payment(update: Update) -> bool:
    """Payment updates are never dropped: a pre-checkout query must be answered, and a successful
    payment must be credited."""
    if update.pre_checkout_query is not None:
        return True
    return update.message is not None and update.message.successful_payment is not None


class MetricsMiddleware(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        kind = event.event_type if isinstance(event, Update) else type(event).__name__
        UPDATES.labels(type=kind).inc()
        started = time.perf_counter()
        try:
            return await handler(event, data)
        except Exception as exc:
            ERRORS.labels(kind=type(exc).__name__).inc()
            raise
        finally:
            UPDATE_DURATION.observe(time.perf_counter() - started)


#: The current update's session, for `CommitBeforeTelegram`.
CURRENT_SESSION: contextvars.ContextVar[AsyncSession | None] = contextvars.ContextVar(
    "vidgen_update_session", default=None
)


class CommitBeforeTelegram(BaseRequestMiddleware):
    """A Bot API request middleware: before any call to Telegram made while an update is handled,
    the update's open transaction is committed. So nothing is said to the user before what it
    says is durable, and no transaction stays open across a Telegram round trip (a slow or
    flood-waiting Telegram never holds database locks or connections in a transaction). An
    update whose handler does its database work first and then answers (most of them) is one
    transaction."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        session = CURRENT_SESSION.get()
        if session is not None and session.in_transaction():
            await session.commit()
        return await make_request(bot, method)


def install_commit_before_telegram(bot: Bot) -> None:
    """Register `CommitBeforeTelegram` on the bot's HTTP session, once."""
    if not getattr(bot.session, "_vidgen_commit_before_telegram", False):
        bot.session.middleware(CommitBeforeTelegram())
        bot.session._vidgen_commit_before_telegram = True  # type: ignore[attr-defined]


class DbSessionMiddleware(BaseMiddleware):
    """One session and one transaction per update (`session` in the handler data): the update's id
    is claimed in it (`core.db.updates.claim`), so an update delivered again after it committed
    is skipped, and the user upsert and the handler's writes commit together — when the handler
    returns, or before its first Telegram call (`CommitBeforeTelegram`), whichever comes first;
    rolled back on an error. Confirm also commits its request itself before the launch."""

    def __init__(self, sessions: SessionMaker) -> None:
        self.sessions = sessions

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        bot = data.get("bot")
        if bot is not None:
            install_commit_before_telegram(bot)
        async with self.sessions() as session:
            data["session"] = session
            token = CURRENT_SESSION.set(session)
            try:
                if isinstance(event, Update) and not await updates.claim(session, event.update_id):
                    await session.rollback()
                    DUPLICATE_UPDATES.inc()
                    log.info("update seen before; skipped", update_id=event.update_id)
                    return None
                result = await handler(event, data)
            except BaseException:
                await session.rollback()
                raise
            finally:
                CURRENT_SESSION.reset(token)
            await session.commit()
            return result


class UserMiddleware(BaseMiddleware):
    """Creates the user on first contact (with the free credits, exactly once, even for concurrent
    or replayed updates) and keeps the name fresh; `user` and `is_new_user` go to the handlers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        if tg_user is None or tg_user.is_bot:
            return await handler(event, data)
        session = data["session"]
        signup = await ensure_user(
            session,
            tg_user.id,
            free_credits=self.settings.free_credits,
            language=language_for(tg_user.language_code),
            username=tg_user.username,
            first_name=tg_user.first_name[:128] if tg_user.first_name else None,
        )
        data["user"] = signup.user
        data["is_new_user"] = signup.created
        return await handler(event, data)


class BlockedUserMiddleware(BaseMiddleware):
    """Blocked users get one clear message and nothing else happens. Payment updates go through:
    the pre-checkout handler refuses them itself, and money already paid is never dropped."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user = data.get("user")
        if user is None or not user.is_blocked or not isinstance(event, Update) or _is_payment(event):
            return await handler(event, data)
        text = t("blocked", data.get("lang"))
        if event.callback_query is not None:
            await event.callback_query.answer(text, show_alert=True)
        elif event.message is not None:
            await event.message.answer(text)
        log.info("blocked user ignored", user_id=user.id)
        return None


class ThrottlingMiddleware(BaseMiddleware):
    """At most one message or button tap per user every `seconds` (per process); extra taps get a
    short notice, extra messages are dropped. Payments and the photos of an album are never
    throttled."""

    def __init__(
        self, seconds: float, *, clock: Callable[[], float] = time.monotonic, max_users: int = 10_000
    ):
        self.seconds = seconds
        self.clock = clock
        self.max_users = max_users
        self._last: dict[int, float] = {}

    def _allow(self, user_id: int) -> bool:
        now = self.clock()
        last = self._last.get(user_id)
        if last is not None and now - last < self.seconds:
            return False
        if len(self._last) >= self.max_users:
            cutoff = now - self.seconds
            self._last = {uid: at for uid, at in self._last.items() if at >= cutoff}
        self._last[user_id] = now
        return True

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        if self.seconds <= 0 or tg_user is None or not isinstance(event, Update) or _is_payment(event):
            return await handler(event, data)
        inner = event.event
        if isinstance(inner, Message) and inner.media_group_id:
            return await handler(event, data)  # an album's photos arrive together: never dropped
        if not isinstance(inner, (Message, CallbackQuery)) or self._allow(tg_user.id):
            return await handler(event, data)
        if isinstance(inner, CallbackQuery):
            await inner.answer(t("throttled", data.get("lang")))
        log.debug("throttled", user_id=tg_user.id)
        return None

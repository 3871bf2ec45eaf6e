"""Update middlewares, outermost first: metrics → DB session → user upsert → i18n → blocked users →
throttling. Each puts what it knows into the handler data (`session`, `user`, `lang`, `is_new_user`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.types import User as TgUser

from vidgen.core.db.engine import SessionMaker
from vidgen.core.db.users import ensure_user
from vidgen.core.logging import get_logger
from vidgen.core.settings import Settings
from vidgen.core.texts import language_for, t

from .metrics import ERRORS, UPDATE_DURATION, UPDATES

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


class DbSessionMiddleware(BaseMiddleware):
    """One session per update (`session` in the handler data). Services commit their own units of
    work; whatever is left is committed when the handler returns and rolled back on an error."""

    def __init__(self, sessions: SessionMaker) -> None:
        self.sessions = sessions

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.sessions() as session:
            data["session"] = session
            try:
                result = await handler(event, data)
            except BaseException:
                await session.rollback()
                raise
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
        await session.commit()
        data["user"] = signup.user
        data["is_new_user"] = signup.created
        return await handler(event, data)


class I18nMiddleware(BaseMiddleware):
    """`lang` for the handlers: the user's chosen language (set at signup from Telegram's
    `language_code`, switchable with /language), else derived from the update."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user = data.get("user")
        tg_user: TgUser | None = data.get("event_from_user")
        if user is not None:
            data["lang"] = user.language
        else:
            data["lang"] = language_for(tg_user.language_code if tg_user is not None else None)
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
    short notice, extra messages are dropped. Payments are never throttled."""

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
        if not isinstance(inner, (Message, CallbackQuery)) or self._allow(tg_user.id):
            return await handler(event, data)
        if isinstance(inner, CallbackQuery):
            await inner.answer(t("throttled", data.get("lang")))
        log.debug("throttled", user_id=tg_user.id)
        return None

"""The one error handler: a typed error (`vidgen.core.errors`, with its `.key`) becomes the user's
text in their language; anything else becomes a generic message. Users never see a stack trace;
the log gets it.

It never guesses about money: the update's own transaction was rolled back, so the handler reads
what the database says in a fresh session — the balance, and for a Confirm tap whether that
request was paid (then it is on its way, whatever went wrong after its commit)."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Router
from aiogram.types import ErrorEvent, Update
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError

from vidgen.core.db import generations
from vidgen.core.db.engine import SessionMaker
from vidgen.core.db.models import User
from vidgen.core.errors import InsufficientCredits, VidgenError
from vidgen.core.logging import get_logger
from vidgen.core.models import generation_name
from vidgen.core.settings import Settings
from vidgen.core.texts import language_for, t

log = get_logger(__name__)

CONFIRM_PREFIX = "confirm:"

router = Router(name=__name__)


def error_text(exc: BaseException, lang: str, settings: Settings) -> str:
    """The user-facing text for an error (never built from the exception's message)."""
    values: dict[str, Any] = {
        "limit": settings.max_prompt_chars,
        "max_mb": settings.max_photo_bytes // (1024 * 1024),
        "balance": "?",
        "needed": settings.credits_per_video,
    }
    if isinstance(exc, InsufficientCredits):
        values.update(balance=exc.balance, needed=exc.needed)
    if isinstance(exc, VidgenError):
        try:
            return t(exc.key, lang, **values)
        except KeyError:
            log.error("no text for error key", key=exc.key)
    return t("error.generic", lang)


async def _money_line(update: Update, sessions: SessionMaker | None, lang: str) -> tuple[str, bool]:
    """(the balance line, whether the update's request is paid) from the database; ("", False)
    when it cannot be read."""
    if sessions is None:
        return "", False
    query = update.callback_query
    user = query.from_user if query is not None else (update.message.from_user if update.message else None)
    if user is None:
        return "", False
    try:
        async with sessions() as session:
            balance = await session.scalar(select(User.balance).where(User.id == user.id))
            paid = False
            if query is not None and query.data and query.data.startswith(CONFIRM_PREFIX):
                token = query.data[len(CONFIRM_PREFIX) :]
                found = await generations.get(session, generation_name(user.id, token))
                paid = found is not None and not found.refunded
    except Exception as exc:
        log.warning("could not read the balance for an error reply", error=repr(exc))
        return "", False
    if balance is None:
        return "", False
    return t("balance.now", lang, balance=balance), paid


@router.errors()
async def on_error(event: ErrorEvent, bot: Bot, settings: Settings, **data: Any) -> bool:
    exc = event.exception
    update = event.update
    if (isinstance(exc, DBAPIError) and exc.connection_invalidated) or isinstance(exc, OperationalError):
        # The database connection broke: the update's transaction (and its id's claim) rolled
        # back whole. Not answered: raised again, so the webhook answers 500 and Telegram
        # delivers the update again, to be handled afresh (in polling mode it is logged).
        log.warning("database unavailable; the update is left for redelivery", update_id=update.update_id)
        raise exc
    tg_user = data.get("event_from_user")
    lang = data.get("lang") or language_for(tg_user.language_code if tg_user else None)
    text = error_text(exc, lang, settings)
    if not isinstance(exc, VidgenError):
        line, paid = await _money_line(update, data.get("sessions"), lang)
        if paid:
            text = t("create.already", lang)
        if line:
            text += "\n" + line
    if isinstance(exc, VidgenError):
        log.info("handled error", error=type(exc).__name__, key=exc.key, update_id=update.update_id)
    else:
        log.error("unexpected error", update_id=update.update_id, exc_info=exc)
    try:
        if update.callback_query is not None:
            query = update.callback_query
            try:
                await query.answer()
            except Exception:  # already answered by the handler
                log.debug("callback already answered")
            chat_id = query.message.chat.id if query.message is not None else query.from_user.id
            await bot.send_message(chat_id, text)
        elif update.pre_checkout_query is not None:
            await update.pre_checkout_query.answer(ok=False, error_message=t("error.generic", lang))
        elif update.message is not None:
            await bot.send_message(update.message.chat.id, text)
    except Exception as reply_exc:  # the error reply itself failed (Telegram down): log, move on
        log.warning("could not send the error reply", error=repr(reply_exc))
    return True

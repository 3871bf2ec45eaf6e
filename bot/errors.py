"""The one error handler: a typed error (`vidgen.core.errors`, with its `.key`) becomes the user's
text in their language; anything else becomes a generic message. Users never see a stack trace;
the log gets it."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Router
from aiogram.types import ErrorEvent

from vidgen.core.errors import InsufficientCredits, VidgenError
from vidgen.core.logging import get_logger
from vidgen.core.settings import Settings
from vidgen.core.texts import language_for, t

log = get_logger(__name__)

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


@router.errors()
async def on_error(event: ErrorEvent, bot: Bot, settings: Settings, **data: Any) -> bool:
    exc = event.exception
    update = event.update
    tg_user = data.get("event_from_user")
    lang = data.get("lang") or language_for(tg_user.language_code if tg_user else None)
    text = error_text(exc, lang, settings)
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

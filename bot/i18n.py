"""The bot's language per update, through aiogram's i18n support on core's gettext catalogues.

`UserLanguageMiddleware` is aiogram's `I18nMiddleware` (so `aiogram.utils.i18n.gettext` works in
handlers, with the same `.mo` files core reads) choosing the user's language: the one stored for
the user (set at signup from Telegram's `language_code`, switchable with /language), else the
update's. It also puts `lang` in the handler data for `vidgen.core.texts.t`."""

from __future__ import annotations

from typing import Any

from aiogram.types import TelegramObject
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n, I18nMiddleware

from vidgen.core.texts import DEFAULT, DOMAIN, LOCALES, language_for

from .middlewares import Handler


def catalogues() -> I18n:
    return I18n(path=LOCALES, default_locale=DEFAULT, domain=DOMAIN)


class UserLanguageMiddleware(I18nMiddleware):
    def __init__(self, i18n: I18n | None = None) -> None:
        super().__init__(i18n or catalogues())

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user = data.get("user")
        if user is not None:
            return str(user.language)
        tg_user: TgUser | None = data.get("event_from_user")
        return language_for(tg_user.language_code if tg_user is not None else None)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        data["lang"] = await self.get_locale(event, data)
        return await super().__call__(handler, event, data)

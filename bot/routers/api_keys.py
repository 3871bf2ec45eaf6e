"""/api: a key for the HTTP API, bound to this user's credits, with its webhook signing secret —
both shown once. The key is named after the command's message, so a replayed update makes no
second key. `/api revoke ID` revokes one of the user's keys."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db.api_keys import KeyNameTaken, create_key, list_keys, revoke_key
from vidgen.core.db.models import User

router = Router(name=__name__)

TEXTS = {
    "en": {
        "made": "Your HTTP API key (shown only now — copy it, then delete this message):\n\n"
        "<code>{key}</code>\n\nWebhook signing secret (Standard Webhooks):\n<code>{secret}</code>\n\n"
        "Key id {id}; it spends this account's credits. Revoke it with /api revoke {id}.",
        "replayed": "That key was already made and shown.",
        "revoked": "Key {id} revoked.",
        "unknown": "You have no key {id}.",
        "usage": "/api makes a key; /api revoke ID revokes one. Your active keys: {ids}.",
    },
    "ru": {
        "made": "Ваш ключ HTTP API (показывается один раз — скопируйте и удалите это сообщение):\n\n"
        "<code>{key}</code>\n\nСекрет подписи вебхуков (Standard Webhooks):\n<code>{secret}</code>\n\n"
        "Ключ {id} тратит кредиты этого аккаунта. Отозвать: /api revoke {id}.",
        "replayed": "Этот ключ уже создан и показан.",
        "revoked": "Ключ {id} отозван.",
        "unknown": "У вас нет ключа {id}.",
        "usage": "/api создаёт ключ; /api revoke ID отзывает. Ваши активные ключи: {ids}.",
    },
}


def text(lang: str, which: str, **values: object) -> str:
    return TEXTS.get(lang, TEXTS["en"])[which].format(**values)


@router.message(Command("api"))
async def api_command(
    message: Message, command: CommandObject, session: AsyncSession, user: User, lang: str
) -> None:
    args = (command.args or "").split()
    if args[:1] == ["revoke"] and len(args) == 2 and args[1].isdigit():
        found = await revoke_key(session, int(args[1]), user.id)
        await session.commit()
        await message.answer(text(lang, "revoked" if found else "unknown", id=args[1]))
        return
    if args:
        keys = [k for k in await list_keys(session, user.id) if k.revoked_at is None]
        await message.answer(text(lang, "usage", ids=", ".join(str(k.id) for k in keys) or "—"))
        return
    try:
        new = await create_key(session, user.id, f"telegram-{message.chat.id}-{message.message_id}")
    except KeyNameTaken:
        await session.rollback()
        await message.answer(text(lang, "replayed"))
        return
    await session.commit()
    await message.answer(
        text(lang, "made", key=new.key, secret=new.webhook_secret, id=new.id), parse_mode="HTML"
    )

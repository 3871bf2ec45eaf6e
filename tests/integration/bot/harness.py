"""Helpers for the bot tests. The bot under test: the real Dispatcher (every router and middleware) fed with updates, talking
to the fake Bot API over real HTTP, on real PostgreSQL, with file storage in tmp_path and a
launcher that records what it is asked to launch."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import Update
from sqlalchemy import select

from tests.fakes.telegram import Call, FakeTelegram
from vidgen.bot.dispatcher import create_dispatcher
from vidgen.core.db.engine import SessionMaker
from vidgen.core.db.models import CreditEntry, Event, Generation, Outbox, Payment, User
from vidgen.core.models import GenerationSpec
from vidgen.core.settings import Settings
from vidgen.storage import FileStorage

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
CAT = (EXAMPLES / "cat.jpg").read_bytes()
ADMIN = 900
USER = 101


class RecordingLauncher:
    """A GenerationLauncher that records specs, idempotent on the name like the real one.
    `fail_next` makes the next N launches raise; `hang` makes launches wait forever (a process
    that dies between the commit and the launch)."""

    def __init__(self) -> None:
        self.calls: list[GenerationSpec] = []
        self.launched: dict[str, GenerationSpec] = {}
        self.fail_next = 0
        self.hang = False
        self.entered = asyncio.Event()

    @property
    def specs(self) -> list[GenerationSpec]:
        return list(self.launched.values())

    async def launch(self, spec: GenerationSpec) -> None:
        self.calls.append(spec)
        self.entered.set()
        if self.hang:
            await asyncio.Event().wait()
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("kubernetes API unreachable")
        self.launched.setdefault(spec.name, spec)


def bot_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "throttle_seconds": 0,
        "admin_ids": [ADMIN],
        "outbox_grace_seconds": 0,
        "outbox_max_attempts": 3,
        "telegram_token": "123456:TEST-token",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Harness:
    tg: FakeTelegram
    bot: Bot
    dp: Dispatcher
    sessions: SessionMaker
    storage: FileStorage
    launcher: RecordingLauncher
    settings: Settings
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    # --- feeding updates ----------------------------------------------------------------------

    def stamp(self, update: dict[str, Any]) -> dict[str, Any]:
        update.setdefault("update_id", next(self._ids))
        return update

    async def feed(self, update: dict[str, Any], dp: Dispatcher | None = None) -> dict[str, Any]:
        self.stamp(update)
        await (dp or self.dp).feed_update(self.bot, Update.model_validate(update, context={"bot": self.bot}))
        return update

    async def text(self, user_id: int, text: str, language: str = "en") -> dict[str, Any]:
        return await self.feed(self.tg.text_update(user_id, text, language))

    async def tap(self, user_id: int, data: str, message_id: int = 1, language: str = "en") -> dict[str, Any]:
        return await self.feed(
            self.tg.callback_update(user_id, data, message_id=message_id, language=language)
        )

    async def photo(
        self, user_id: int, data: bytes = CAT, caption: str | None = None, language: str = "en"
    ) -> dict[str, Any]:
        return await self.feed(self.tg.photo_update(user_id, data, caption=caption, language=language))

    # --- reading what the fake received -----------------------------------------------------

    def last(self, method: str, chat_id: int | None = None) -> Call:
        calls = [
            c
            for c in self.tg.calls_to(method)
            if chat_id is None or str(c.params.get("chat_id")) == str(chat_id)
        ]
        assert calls, f"no {method} call; calls: {[c.method for c in self.tg.calls]}"
        return calls[-1]

    def texts(self, chat_id: int) -> list[str]:
        return self.tg.sent_texts(chat_id)

    def buttons(self, call: Call) -> list[dict[str, Any]]:
        markup = call.json("reply_markup") or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]

    def callback(self, call: Call, prefix: str) -> str:
        found = [
            b["callback_data"] for b in self.buttons(call) if b.get("callback_data", "").startswith(prefix)
        ]
        assert found, f"no {prefix} button in {self.buttons(call)}"
        return str(found[0])

    def screen(self, chat_id: int) -> Call:
        """The latest message sent or edited for the chat that carries a keyboard."""
        calls = [
            c
            for c in self.tg.calls
            if c.method in ("sendMessage", "editMessageText", "sendVideo")
            and str(c.params.get("chat_id")) == str(chat_id)
            and c.params.get("reply_markup")
        ]
        assert calls, f"no keyboard sent to {chat_id}"
        return calls[-1]

    def button(self, chat_id: int, prefix: str) -> str:
        """The callback data of the latest keyboard's first button starting with `prefix`."""
        return self.callback(self.screen(chat_id), prefix)

    def answers(self) -> list[dict[str, Any]]:
        return [c.params for c in self.tg.calls_to("answerCallbackQuery")]

    # --- reading the database ---------------------------------------------------------------

    async def balance(self, user_id: int) -> int:
        async with self.sessions() as session:
            value = await session.scalar(select(User.balance).where(User.id == user_id))
            assert value is not None, f"user {user_id} does not exist"
            return int(value)

    async def entries(self, user_id: int | None = None, kind: str | None = None) -> list[CreditEntry]:
        query = select(CreditEntry).order_by(CreditEntry.id)
        if user_id is not None:
            query = query.where(CreditEntry.user_id == user_id)
        if kind is not None:
            query = query.where(CreditEntry.kind == kind)
        async with self.sessions() as session:
            return list((await session.scalars(query)).all())

    async def rows(self, model: Any) -> list[Any]:
        async with self.sessions() as session:
            return list((await session.scalars(select(model))).all())

    async def generations(self) -> list[Generation]:
        return await self.rows(Generation)

    async def outbox(self) -> list[Outbox]:
        return await self.rows(Outbox)

    async def payments(self) -> list[Payment]:
        return await self.rows(Payment)

    async def events(self, type_: str | None = None) -> list[Event]:
        return [e for e in await self.rows(Event) if type_ is None or e.type == type_]

    # --- a whole request -------------------------------------------------------------------

    async def prepare(
        self, user_id: int, prompt: str | None = "a cat dancing in the rain", message_id: int = 500
    ) -> str:
        """/start → photo → prompt (or AI) → Continue: returns the Confirm button's data; the
        confirm screen is message `message_id`."""
        await self.text(user_id, "/start")
        await self.photo(user_id)
        if prompt is None:
            await self.tap(user_id, "prompt:auto", message_id=message_id)
        else:
            await self.text(user_id, prompt)
        await self.tap(user_id, self.button(user_id, "opt:next"), message_id=message_id)
        return self.button(user_id, "confirm:")


def make_harness(
    tg: FakeTelegram,
    sessions: SessionMaker,
    tmp_path: Path,
    *,
    settings: Settings | None = None,
    fsm_storage: BaseStorage | None = None,
    launcher: RecordingLauncher | None = None,
    storage: FileStorage | None = None,
) -> Harness:
    settings = settings or bot_settings()
    storage = storage or FileStorage(tmp_path / "data")
    launcher = launcher or RecordingLauncher()
    dp = create_dispatcher(
        settings, sessions=sessions, storage=storage, launcher=launcher, fsm_storage=fsm_storage
    )
    return Harness(tg, tg.bot(), dp, sessions, storage, launcher, settings)

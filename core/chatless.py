"""Generations with no Telegram chat: those requested through the HTTP API. Their `chat_id` is
`NO_CHAT` (0 — never a Telegram chat id), the video stays in storage for the API's signed link
and the webhook, and there is no notice to send. `ChatlessDelivery` wraps a process's `Delivery`
(the operator's, local mode's) so the reconciler's "deliver" step completes for them without
Telegram; every other chat goes to the wrapped delivery unchanged."""

from __future__ import annotations

from collections.abc import Sequence

from .ports import Button, Delivery, NotSent, Sent

NO_CHAT = 0
#: The `file_id` recorded for a chatless delivery: none (the video is only in storage, so the bot's
#: "send again" uploads it from there rather than trying a Telegram file id).
STORED = ""


class ChatlessDelivery:
    def __init__(self, inner: Delivery | None) -> None:
        self.inner = inner

    async def send_video(
        self, chat_id: int, video_key: str, *, caption: str | None = None, buttons: Sequence[Button] = ()
    ) -> Sent | NotSent:
        if chat_id == NO_CHAT:
            return Sent(STORED, by_url=False)
        if self.inner is None:
            return NotSent(f"no chat delivery configured for chat {chat_id}", permanent=True)
        return await self.inner.send_video(chat_id, video_key, caption=caption, buttons=buttons)

    async def send_text(self, chat_id: int, text: str) -> NotSent | None:
        if chat_id == NO_CHAT:
            return None
        if self.inner is None:
            return NotSent(f"no chat delivery configured for chat {chat_id}", permanent=True)
        return await self.inner.send_text(chat_id, text)

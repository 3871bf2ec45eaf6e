"""Chat 0 (an API request) is delivered by leaving the video in storage; other chats go to the
wrapped delivery; with none wrapped (the API alone), a chat delivery is refused for good."""

from __future__ import annotations

from vidgen.core.chatless import NO_CHAT, STORED, ChatlessDelivery
from vidgen.core.ports import Button, NotSent, Sent


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    async def send_video(
        self, chat_id: int, video_key: str, *, caption: str | None = None, buttons: tuple[Button, ...] = ()
    ) -> Sent | NotSent:  # type: ignore[override]
        self.calls.append(("video", chat_id))
        return Sent("file-1", by_url=True)

    async def send_text(self, chat_id: int, text: str) -> NotSent | None:
        self.calls.append(("text", chat_id))
        return None


async def test_chat_zero_never_reaches_telegram() -> None:
    inner = Recorder()
    delivery = ChatlessDelivery(inner)
    assert await delivery.send_video(NO_CHAT, "outputs/x.mp4") == Sent(STORED, by_url=False)
    assert await delivery.send_text(NO_CHAT, "failed") is None
    assert inner.calls == []
    assert await delivery.send_video(42, "outputs/x.mp4") == Sent("file-1", by_url=True)
    assert await delivery.send_text(42, "hi") is None
    assert inner.calls == [("video", 42), ("text", 42)]


async def test_without_a_chat_delivery_other_chats_are_refused_permanently() -> None:
    delivery = ChatlessDelivery(None)
    sent = await delivery.send_video(42, "outputs/x.mp4")
    assert isinstance(sent, NotSent) and sent.permanent
    text = await delivery.send_text(42, "x")
    assert isinstance(text, NotSent) and text.permanent

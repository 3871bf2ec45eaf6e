"""Callback-data formats that cross parts. The operator puts "Generate again" under a delivered
video; the bot handles the tap. Both read the format from here (aiogram's CallbackData packs
`<prefix>:<field>`, so the bot's class with this prefix parses what `again_data` builds)."""

from __future__ import annotations

#: Telegram's limit on callback data, in bytes.
MAX_CALLBACK_BYTES = 64
AGAIN_PREFIX = "again"


def again_data(name: str) -> str | None:
    """`again:<generation name>`, or None if it would not fit in Telegram's 64 bytes."""
    data = f"{AGAIN_PREFIX}:{name}"
    return data if len(data.encode()) <= MAX_CALLBACK_BYTES and ":" not in name else None

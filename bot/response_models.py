"""Keep aiogram's Bot API response models alive.

aiogram parses each answer with `Response[<the method's return type>]`, a pydantic generic
parametrised per call. pydantic caches parametrised models only weakly, so between two calls the
class is often collected and rebuilt — about 28 ms of CPU each time, measured as ~13% of the bot's
time per update in a cProfile of bench/bot.py. Building every method's response model once at
start-up and holding them makes every later parametrisation a cache hit."""

from __future__ import annotations

from typing import Any

_KEPT: list[Any] = []


def keep_response_models() -> int:
    """Parametrise `Response[...]` for every Bot API method once and hold the classes; returns how
    many are held. Idempotent."""
    if _KEPT:
        return len(_KEPT)
    import aiogram.methods as methods
    from aiogram.methods.base import Response, TelegramMethod

    for value in vars(methods).values():
        if isinstance(value, type) and issubclass(value, TelegramMethod) and value is not TelegramMethod:
            returning = getattr(value, "__returning__", None)
            if returning is not None:
                _KEPT.append(Response[returning])  # type: ignore[valid-type]
    return len(_KEPT)

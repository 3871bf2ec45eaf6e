"""aiogram's Response[...] models are built once and kept (a pydantic generic cached only weakly
would otherwise be rebuilt on many Bot API calls)."""

from __future__ import annotations

import gc

from aiogram.methods import SendMessage
from aiogram.methods.base import Response

from vidgen.bot import response_models
from vidgen.bot.response_models import keep_response_models


def test_response_models_are_kept_and_reused() -> None:
    held = keep_response_models()
    assert held > 100
    assert keep_response_models() == held  # idempotent
    gc.collect()
    # The class aiogram builds for a sendMessage answer is one of those held: a cache hit.
    built = Response[SendMessage.__returning__]  # type: ignore[name-defined]
    assert any(built is kept for kept in response_models._KEPT)

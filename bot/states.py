"""The create-video conversation: photo → prompt → options → confirm."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class CreateVideo(StatesGroup):
    photo = State()
    prompt = State()
    options = State()
    confirm = State()

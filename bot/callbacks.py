"""Typed callback data (aiogram `CallbackData`). Every button's payload is one of these, so a
handler never parses strings by hand; `callback_data` stays under Telegram's 64 bytes.

`AgainCallback` crosses parts: the operator attaches `again:<generation name>` under a
delivered video, and the bot handles it (same photo and prompt, new debit, new name)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData

from vidgen.core.callbacks import AGAIN_PREFIX


class AgainCallback(CallbackData, prefix=AGAIN_PREFIX):
    """ "Generate again" under a delivered video (the operator builds it with core's `again_data`)."""

    name: str


class MenuCallback(CallbackData, prefix="menu"):
    action: str  # create | balance | buy | history | help | home


class PromptCallback(CallbackData, prefix="prompt"):
    action: str  # auto (let AI write the prompt)


class OptionCallback(CallbackData, prefix="opt"):
    field: str  # model | aspect | next
    value: str = ""


class ConfirmCallback(CallbackData, prefix="confirm"):
    """Confirm a request; `token` ties the tap to the request it was shown for."""

    token: str


class FewerCallback(CallbackData, prefix="fewer"):
    """Keep only the first `count` photos of an album (the balance covers that many)."""

    token: str
    count: int


class CancelCallback(CallbackData, prefix="cancel"):
    """Cancel; on a confirm screen `token` names the request it was shown for, so Cancel can see
    whether that request was already paid (buttons sent before tokens existed carry none)."""

    token: str = ""


class BuyCallback(CallbackData, prefix="buy"):
    package: str


class HistoryCallback(CallbackData, prefix="hist"):
    action: str  # send
    name: str


class ForgetCallback(CallbackData, prefix="forget"):
    action: str  # yes | no


class LanguageCallback(CallbackData, prefix="lang"):
    code: str

"""Inline keyboards, built from typed callback data and texts in the user's language."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from vidgen.core.catalogue import MODELS
from vidgen.core.settings import StarsPackage
from vidgen.core.styles import STYLES
from vidgen.core.texts import LANGUAGES, t

from .callbacks import (
    AgainCallback,
    BuyCallback,
    CancelCallback,
    ConfirmCallback,
    FewerCallback,
    HistoryCallback,
    LanguageCallback,
    MenuCallback,
    OptionCallback,
    PromptCallback,
)
from .services.generation import Draft


def main_menu(lang: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=t("button.create", lang), callback_data=MenuCallback(action="create"))
    kb.button(text=t("button.balance", lang), callback_data=MenuCallback(action="balance"))
    kb.button(text=t("button.buy", lang), callback_data=MenuCallback(action="buy"))
    kb.button(text=t("button.history", lang), callback_data=MenuCallback(action="history"))
    kb.button(text=t("button.help", lang), callback_data=MenuCallback(action="help"))
    kb.button(text=t("button.invite", lang), callback_data=MenuCallback(action="invite"))
    kb.adjust(1, 2, 2, 1)
    return kb.as_markup()


def back_to_menu(lang: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=t("button.menu", lang), callback_data=MenuCallback(action="home"))
    return kb.as_markup()


def cancel_only(lang: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=t("button.cancel", lang), callback_data=CancelCallback())
    return kb.as_markup()


def prompt_choice(lang: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=t("button.auto_prompt", lang), callback_data=PromptCallback(action="auto"))
    kb.button(text=t("button.cancel", lang), callback_data=CancelCallback())
    kb.adjust(1)
    return kb.as_markup()


MODELS_PER_ROW = 3


def options(lang: str, draft: Draft) -> InlineKeyboardMarkup:
    """Model, format and — for a model with a choice — length buttons (the selected ones ticked)."""
    model, aspect_ratio = draft.model, draft.aspect_ratio
    kb = InlineKeyboardBuilder()
    for info in MODELS.values():
        mark = "✅ " if info.id == model else ""
        kb.button(text=f"{mark}{info.title}", callback_data=OptionCallback(field="model", value=info.id))
    for aspect in MODELS[model].aspect_ratios:
        mark = "✅ " if aspect == aspect_ratio else ""
        kb.button(
            text=f"{mark}{t(f'aspect.{aspect}', lang)}",
            callback_data=OptionCallback(field="aspect", value=aspect),
        )
    for preset in STYLES:
        mark = "✅ " if preset.id == draft.style else ""
        kb.button(
            text=f"{mark}{t(f'style.{preset.id}', lang)}",
            callback_data=OptionCallback(field="style", value=preset.id),
        )
    durations = MODELS[model].durations if len(MODELS[model].durations) > 1 else ()
    for seconds in durations:
        mark = "✅ " if seconds == draft.seconds else ""
        kb.button(
            text=f"{mark}{t('button.seconds', lang, seconds=seconds)}",
            callback_data=OptionCallback(field="duration", value=str(seconds)),
        )
    kb.button(text=t("button.continue", lang), callback_data=OptionCallback(field="next"))
    kb.button(text=t("button.cancel", lang), callback_data=CancelCallback())
    # models three to a row (Telegram allows at most 8 buttons in a row), then the aspects,
    # the styles, the lengths
    model_rows = [MODELS_PER_ROW] * (len(MODELS) // MODELS_PER_ROW)
    if len(MODELS) % MODELS_PER_ROW:
        model_rows.append(len(MODELS) % MODELS_PER_ROW)
    rows = [*model_rows, len(MODELS[model].aspect_ratios), 3, len(STYLES) - 3]
    rows += ([len(durations)] if durations else []) + [1, 1]
    kb.adjust(*rows)
    return kb.as_markup()


def packages(lang: str, items: Sequence[StarsPackage]) -> list[list[InlineKeyboardButton]]:
    return [
        [
            InlineKeyboardButton(
                text=t("button.package", lang, credits=p.credits, stars=p.stars),
                callback_data=BuyCallback(package=p.id).pack(),
            )
        ]
        for p in items
    ]


def buy(lang: str, items: Sequence[StarsPackage]) -> InlineKeyboardMarkup:
    rows = packages(lang, items)
    rows.append(
        [InlineKeyboardButton(text=t("button.menu", lang), callback_data=MenuCallback(action="home").pack())]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def confirm(
    lang: str, token: str, offer: Sequence[StarsPackage] = (), fewer: int = 0
) -> InlineKeyboardMarkup:
    """Confirm / Cancel; with packages to buy above them when the balance is too low, and for an
    album the balance covers only in part, "Make N" (`fewer`)."""
    rows = packages(lang, offer)
    if fewer:
        rows.append(
            [
                InlineKeyboardButton(
                    text=t("button.fewer", lang, videos=fewer),
                    callback_data=FewerCallback(token=token, count=fewer).pack(),
                )
            ]
        )
    rows.append(
        [
            InlineKeyboardButton(
                text=t("button.confirm", lang), callback_data=ConfirmCallback(token=token).pack()
            ),
            InlineKeyboardButton(
                text=t("button.cancel", lang), callback_data=CancelCallback(token=token).pack()
            ),
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def again(lang: str, name: str) -> InlineKeyboardMarkup:
    """The "Generate again" button (the operator attaches the same under delivered videos)."""
    kb = InlineKeyboardBuilder()
    kb.button(text=t("button.generate_again", lang), callback_data=AgainCallback(name=name))
    return kb.as_markup()


def balance(lang: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=t("button.buy", lang), callback_data=MenuCallback(action="buy"))
    kb.button(text=t("button.menu", lang), callback_data=MenuCallback(action="home"))
    kb.adjust(1)
    return kb.as_markup()


def history(lang: str, items: Sequence[tuple[int, str, str | None]]) -> InlineKeyboardMarkup:
    """One row per delivered video: send it again, and a download link when storage can sign one.
    `items` holds (number in the list, generation name, download URL or None)."""
    rows: list[list[InlineKeyboardButton]] = []
    for number, name, url in items:
        row = [
            InlineKeyboardButton(
                text=t("button.send_again", lang, number=number),
                callback_data=HistoryCallback(action="send", name=name).pack(),
            )
        ]
        if url:
            row.append(InlineKeyboardButton(text=t("button.download", lang, number=number), url=url))
        rows.append(row)
    rows.append(
        [InlineKeyboardButton(text=t("button.menu", lang), callback_data=MenuCallback(action="home").pack())]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def help_menu(lang: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for code in LANGUAGES:
        kb.button(text=t("language.name", code), callback_data=LanguageCallback(code=code))
    kb.button(text=t("button.menu", lang), callback_data=MenuCallback(action="home"))
    kb.adjust(len(LANGUAGES), 1)
    return kb.as_markup()

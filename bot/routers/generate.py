"""Create video: photo → optional prompt → options → confirm (CreateVideo states), and
"Generate again" under a delivered video. The logic lives in GenerationService."""

from __future__ import annotations

import contextlib
from dataclasses import replace

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db.models import User
from vidgen.core.errors import InputError, InsufficientCredits
from vidgen.core.settings import Settings
from vidgen.core.texts import t

from .. import keyboards, views
from ..callbacks import (
    AgainCallback,
    CancelCallback,
    ConfirmCallback,
    MenuCallback,
    OptionCallback,
    PromptCallback,
)
from ..services import AccountService, Draft, GenerationService, PaymentService
from ..services.generation import media_of
from ..states import CreateVideo
from .common import edit_or_send

router = Router(name=__name__)

NOT_A_PHOTO = F.sticker | F.voice | F.video | F.video_note | F.animation | F.audio


async def _draft(state: FSMContext) -> Draft | None:
    return Draft.from_data(await state.get_data())


async def _show_confirm(
    target: CallbackQuery | Message,
    draft: Draft,
    *,
    session: AsyncSession,
    user: User,
    lang: str,
    accounts: AccountService,
    payments: PaymentService,
    generation: GenerationService,
) -> None:
    balance = await accounts.balance(session, user.id)
    offer = payments.packages if balance < generation.cost else []
    text = views.confirm(lang, draft, generation.cost, balance)
    markup = keyboards.confirm(lang, draft.token, offer)
    if isinstance(target, CallbackQuery):
        await edit_or_send(target, text, markup)
    else:
        await target.answer(text, reply_markup=markup)


@router.message(Command("create"))
async def create_command(message: Message, state: FSMContext, lang: str, settings: Settings) -> None:
    await state.set_state(CreateVideo.photo)
    await state.set_data({})
    max_mb = settings.max_photo_bytes // (1024 * 1024)
    await message.answer(
        t("create.send_photo", lang, max_mb=max_mb), reply_markup=keyboards.cancel_only(lang)
    )


@router.callback_query(MenuCallback.filter(F.action == "create"))
async def create_button(query: CallbackQuery, state: FSMContext, lang: str, settings: Settings) -> None:
    await state.set_state(CreateVideo.photo)
    await state.set_data({})
    await query.answer()
    max_mb = settings.max_photo_bytes // (1024 * 1024)
    await edit_or_send(query, t("create.send_photo", lang, max_mb=max_mb), keyboards.cancel_only(lang))


@router.message(NOT_A_PHOTO)
async def not_a_photo(message: Message) -> None:
    """Stickers, voice, video, GIFs, audio: never a photo (state unchanged, nothing charged)."""
    raise InputError("not_a_photo", str(message.content_type))


@router.message(F.photo | F.document)
async def photo(
    message: Message,
    state: FSMContext,
    bot: Bot,
    session: AsyncSession,
    user: User,
    lang: str,
    settings: Settings,
    generation: GenerationService,
) -> None:
    """A photo (or an image sent as a file) starts a new request in any state; a caption is
    taken as the prompt."""
    media = media_of(message)
    draft = await generation.receive_photo(bot, session, user.id, media)
    await state.set_state(CreateVideo.prompt)
    await state.set_data(draft.to_data())
    if message.caption:
        prompt = generation.check_prompt(message.caption)
        draft = replace(draft, prompt=prompt)
        await state.set_state(CreateVideo.options)
        await state.set_data(draft.to_data())
        await message.answer(
            views.options(lang, draft), reply_markup=keyboards.options(lang, draft.model, draft.aspect_ratio)
        )
        return
    await message.answer(
        t("create.ask_prompt", lang, limit=settings.max_prompt_chars),
        reply_markup=keyboards.prompt_choice(lang),
    )


@router.message(CreateVideo.prompt, F.text & ~F.text.startswith("/"))
async def prompt(message: Message, state: FSMContext, lang: str, generation: GenerationService) -> None:
    draft = await _draft(state)
    if draft is None:
        await state.clear()
        await message.answer(t("create.expired", lang))
        return
    draft = replace(draft, prompt=generation.check_prompt(message.text))
    await state.set_state(CreateVideo.options)
    await state.set_data(draft.to_data())
    await message.answer(
        views.options(lang, draft), reply_markup=keyboards.options(lang, draft.model, draft.aspect_ratio)
    )


@router.callback_query(CreateVideo.prompt, PromptCallback.filter(F.action == "auto"))
async def auto_prompt(query: CallbackQuery, state: FSMContext, lang: str) -> None:
    draft = await _draft(state)
    await query.answer()
    if draft is None:
        await state.clear()
        await edit_or_send(query, t("create.expired", lang))
        return
    draft = replace(draft, prompt="")
    await state.set_state(CreateVideo.options)
    await state.set_data(draft.to_data())
    await edit_or_send(
        query, views.options(lang, draft), keyboards.options(lang, draft.model, draft.aspect_ratio)
    )


@router.callback_query(CreateVideo.options, OptionCallback.filter())
async def option(
    query: CallbackQuery,
    callback_data: OptionCallback,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    lang: str,
    accounts: AccountService,
    payments: PaymentService,
    generation: GenerationService,
) -> None:
    draft = await _draft(state)
    await query.answer()
    if draft is None:
        await state.clear()
        await edit_or_send(query, t("create.expired", lang))
        return
    if callback_data.field == "next":
        await state.set_state(CreateVideo.confirm)
        await _show_confirm(
            query,
            draft,
            session=session,
            user=user,
            lang=lang,
            accounts=accounts,
            payments=payments,
            generation=generation,
        )
        return
    draft = draft.with_option(callback_data.field, callback_data.value)
    await state.set_data(draft.to_data())
    await edit_or_send(
        query, views.options(lang, draft), keyboards.options(lang, draft.model, draft.aspect_ratio)
    )


@router.callback_query(ConfirmCallback.filter())
async def confirm(
    query: CallbackQuery,
    callback_data: ConfirmCallback,
    state: FSMContext,
    bot: Bot,
    session: AsyncSession,
    user: User,
    lang: str,
    accounts: AccountService,
    payments: PaymentService,
    generation: GenerationService,
) -> None:
    """One debit per request however often Confirm is tapped: the request's name comes from the
    token in the state, and `create_request` is idempotent on it. The tapped message becomes the
    progress message the operator edits (its id goes into the spec before the commit)."""
    draft = await _draft(state)
    if draft is None or draft.token != callback_data.token:
        await query.answer(t("create.stale", lang), show_alert=True)
        return
    message = query.message
    if isinstance(message, Message):
        chat_id, status_id = message.chat.id, message.message_id
    else:  # the confirm message is no longer accessible: post a fresh progress message
        posted = await bot.send_message(user.id, t("progress.pending", lang))
        chat_id, status_id = posted.chat.id, posted.message_id
    spec = generation.spec_for(
        draft, user_id=user.id, chat_id=chat_id, status_message_id=status_id, language=lang
    )
    try:
        balance, created = await generation.request(session, spec)
    except InsufficientCredits as exc:
        await query.answer()
        await bot.send_message(
            chat_id,
            t("error.insufficient_credits", lang, balance=exc.balance, needed=exc.needed)
            + "\n"
            + t("buy.choose", lang),
            reply_markup=keyboards.buy(lang, payments.packages),
        )
        return
    if not created:
        await query.answer(t("create.already", lang))
        return
    await state.clear()
    await query.answer(t("create.accepted", lang, balance=balance))
    if isinstance(message, Message):
        # The confirm message becomes the progress message (edited before the launch, so this
        # text never overwrites the operator's first update). If it cannot be edited, the
        # operator's edits will fail the same way; nothing else depends on it.
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_text(t("progress.pending", lang), reply_markup=None)
    await generation.launch(session, spec)


@router.callback_query(AgainCallback.filter())
async def again(
    query: CallbackQuery,
    callback_data: AgainCallback,
    state: FSMContext,
    bot: Bot,
    session: AsyncSession,
    user: User,
    lang: str,
    accounts: AccountService,
    payments: PaymentService,
    generation: GenerationService,
) -> None:
    """Same photo and prompt as a delivered video, as a new request (new name, new debit on
    confirm): shows the confirmation as a new message under the video."""
    draft = await generation.again(session, user.id, callback_data.name)
    await state.set_state(CreateVideo.confirm)
    await state.set_data(draft.to_data())
    await query.answer()
    chat_id = query.message.chat.id if query.message is not None else user.id
    balance = await accounts.balance(session, user.id)
    offer = payments.packages if balance < generation.cost else []
    await bot.send_message(
        chat_id,
        views.confirm(lang, draft, generation.cost, balance),
        reply_markup=keyboards.confirm(lang, draft.token, offer),
    )


@router.callback_query(CancelCallback.filter())
async def cancel_button(query: CallbackQuery, state: FSMContext, lang: str) -> None:
    await state.clear()
    await query.answer()
    await edit_or_send(query, t("create.cancelled", lang), keyboards.main_menu(lang))


@router.message(Command("cancel"))
async def cancel_command(message: Message, state: FSMContext, lang: str) -> None:
    await state.clear()
    await message.answer(t("create.cancelled", lang), reply_markup=keyboards.main_menu(lang))


@router.message(CreateVideo.photo, ~F.text.startswith("/"))
async def waiting_for_photo(message: Message) -> None:
    raise InputError("not_a_photo", str(message.content_type))


@router.message(StateFilter(CreateVideo.options, CreateVideo.confirm), ~F.text.startswith("/"))
async def use_buttons(message: Message, lang: str) -> None:
    await message.answer(t("create.use_buttons", lang))

"""Create video: photo → optional prompt → options → confirm (CreateVideo states), and
"Generate again" under a delivered video. The logic lives in GenerationService."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import replace

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.db import generations, sqla_ledger
from vidgen.core.db.models import User
from vidgen.core.errors import InputError, InsufficientCredits
from vidgen.core.settings import Settings
from vidgen.core.styles import remembered
from vidgen.core.texts import t

from .. import keyboards, views
from ..callbacks import (
    AgainCallback,
    CancelCallback,
    ConfirmCallback,
    FewerCallback,
    MenuCallback,
    OptionCallback,
    PromptCallback,
)
from ..services import AccountService, Draft, GenerationService, PaymentService
from ..services.generation import media_of
from ..services.referrals import ReferralService
from ..states import CreateVideo
from .common import edit_or_send, telegram_quietly

router = Router(name=__name__)

#: Telegram's own limit on an album.
MAX_ALBUM = 10

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
    text, markup = _confirm_screen(lang, draft, balance, generation, payments)
    if isinstance(target, CallbackQuery):
        await edit_or_send(target, text, markup)
    else:
        await target.answer(text, reply_markup=markup)


def _confirm_screen(
    lang: str, draft: Draft, balance: int, generation: GenerationService, payments: PaymentService
) -> tuple[str, InlineKeyboardMarkup]:
    price = generation.price(draft)
    total = price * draft.count
    offer = payments.packages if balance < total else []
    affordable = balance // price if price else draft.count
    fewer = affordable if draft.count > 1 and 0 < affordable < draft.count else 0
    return (
        views.confirm(lang, draft, price, balance),
        keyboards.confirm(lang, draft.token, offer, fewer),
    )


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
    """Stickers, voice, video, GIFs, audio: never a photo (state unchanged, nothing charged). In an
    album, the photos around it are kept: only this item is skipped."""
    if message.media_group_id:
        raise InputError("album_not_photo", str(message.content_type))
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
    taken as the prompt. The photos of an album make one request of one video each."""
    if message.media_group_id:
        await _album_photo(message, state, bot, session, user, lang, settings, generation)
        return
    media = media_of(message)
    draft = await generation.receive_photo(bot, session, user.id, media)
    draft = replace(draft, style=remembered(user.style))
    await state.set_state(CreateVideo.prompt)
    await state.set_data(draft.to_data())
    if message.caption:
        prompt = generation.check_prompt(message.caption)
        draft = replace(draft, prompt=prompt)
        await state.set_state(CreateVideo.options)
        await state.set_data(draft.to_data())
        await message.answer(views.options(lang, draft), reply_markup=keyboards.options(lang, draft))
        return
    await message.answer(
        t("create.ask_prompt", lang, limit=settings.max_prompt_chars),
        reply_markup=keyboards.prompt_choice(lang),
    )


def _album_lock(chat_id: int) -> asyncio.Lock:
    """The photos of an album arrive as separate updates, handled concurrently: one at a time per
    chat (in this process; Telegram sends an album to one webhook replica in practice, and the
    conversation state's last writer would otherwise drop photos)."""
    lock = _ALBUM_LOCKS.get(chat_id)
    if lock is None:
        lock = _ALBUM_LOCKS[chat_id] = asyncio.Lock()
    return lock


_ALBUM_LOCKS: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()


async def _album_photo(
    message: Message,
    state: FSMContext,
    bot: Bot,
    session: AsyncSession,
    user: User,
    lang: str,
    settings: Settings,
    generation: GenerationService,
) -> None:
    """One photo of an album: the first starts the draft and posts its screen; each further one
    is stored, added (at most MAX_ALBUM) and the screen edited to count it. A caption (on any of
    them) is the shared prompt."""
    media = media_of(message)
    caption = generation.check_prompt(message.caption) if message.caption else None
    async with _album_lock(message.chat.id):
        draft = await _draft(state)
        if draft is not None and draft.album == message.media_group_id:
            if draft.count >= MAX_ALBUM:
                raise InputError("album_too_large", str(draft.count + 1))
            _, name, key = await generation.store_photo(bot, session, user.id, media)
            draft = draft.add_photo(name, key)
            if caption:
                draft = replace(draft, prompt=caption)
                await state.set_state(CreateVideo.options)
            await state.set_data(draft.to_data())
            text, markup = await _screen(state, draft, lang, settings)
            await telegram_quietly(
                bot.edit_message_text(
                    text, chat_id=message.chat.id, message_id=draft.screen, reply_markup=markup
                )
            )
            return
        draft = await generation.receive_photo(bot, session, user.id, media)
        draft = replace(
            draft, album=str(message.media_group_id), prompt=caption or "", style=remembered(user.style)
        )
        await state.set_state(CreateVideo.options if caption else CreateVideo.prompt)
        text, markup = await _screen(state, draft, lang, settings)
        sent = await message.answer(text, reply_markup=markup)
        await state.set_data(replace(draft, screen=sent.message_id).to_data())


async def _screen(
    state: FSMContext, draft: Draft, lang: str, settings: Settings
) -> tuple[str, InlineKeyboardMarkup]:
    """The screen for the draft's step: the options, or the prompt question (with the album's
    count on top)."""
    if await state.get_state() == CreateVideo.options.state:
        return views.options(lang, draft), keyboards.options(lang, draft)
    return (
        views.album_header(lang, draft) + t("create.ask_prompt", lang, limit=settings.max_prompt_chars),
        keyboards.prompt_choice(lang),
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
    await message.answer(views.options(lang, draft), reply_markup=keyboards.options(lang, draft))


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
    await edit_or_send(query, views.options(lang, draft), keyboards.options(lang, draft))


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
    changed = draft.with_option(callback_data.field, callback_data.value)
    if changed == draft:  # the option already selected: the screen is already right
        return
    if changed.style != draft.style:
        await accounts.set_style(session, user.id, changed.style)
    draft = changed
    await state.set_data(draft.to_data())
    await edit_or_send(query, views.options(lang, draft), keyboards.options(lang, draft))


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
    referral: ReferralService,
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
    if draft.count > 1:
        await _confirm_batch(
            query,
            draft,
            message,
            chat_id,
            status_id,
            state,
            bot,
            session,
            user,
            lang,
            payments,
            generation,
            referral,
        )
        return
    spec = generation.spec_for(
        draft, user_id=user.id, chat_id=chat_id, status_message_id=status_id, language=lang
    )
    try:
        balance, created = await generation.request(session, spec, generation.price(draft))
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
        # Paid before (a double tap, a redelivery, a retry after a Telegram error): say what the
        # database says, and make sure it is launched (idempotent on the name).
        try:
            await telegram_quietly(query.answer(t("create.already", lang)))
        finally:
            await generation.launch(session, spec)
        return
    # From here the request is committed: no Telegram or network error may skip the launch.
    try:
        await telegram_quietly(state.clear())
        await telegram_quietly(query.answer(t("create.accepted", lang, balance=balance)))
        if isinstance(message, Message):
            # The confirm message becomes the progress message (edited before the launch, so
            # this text never overwrites the operator's first update).
            await telegram_quietly(message.edit_text(t("progress.pending", lang), reply_markup=None))
    finally:
        await generation.launch(session, spec)
    await referral.after_video(bot, session, user)


async def _confirm_batch(
    query: CallbackQuery,
    draft: Draft,
    message: object,
    chat_id: int,
    status_id: int,
    state: FSMContext,
    bot: Bot,
    session: AsyncSession,
    user: User,
    lang: str,
    payments: PaymentService,
    generation: GenerationService,
    referral: ReferralService,
) -> None:
    """An album: N videos, one debit each, all in one transaction. Each video gets its own
    progress message (the confirm message for the first, a new one for each other, posted
    before the commit so their ids are in the specs)."""
    if await generation.paid(session, user.id, draft.token) is None:
        balance = await sqla_ledger.balance_of(session, user.id)
        needed = generation.price(draft) * draft.count
        if balance < needed:
            await query.answer()
            await bot.send_message(
                chat_id,
                t("error.insufficient_credits", lang, balance=balance, needed=needed)
                + "\n"
                + t("buy.choose", lang),
                reply_markup=keyboards.buy(lang, payments.packages),
            )
            return
        status_ids = [status_id]
        for number in range(2, draft.count + 1):
            posted = await bot.send_message(chat_id, t("progress.pending_n", lang, number=number))
            status_ids.append(posted.message_id)
    else:  # paid before: the specs as they were recorded (their progress messages exist)
        status_ids = []
        for name, _ in draft.items():
            found = await generations.get(session, name)
            status_ids.append(found.status_message_id if found is not None else None)  # type: ignore[arg-type]
    specs = [
        generation.spec_for(
            draft, user_id=user.id, chat_id=chat_id, status_message_id=sid, language=lang, item=item
        )
        for item, sid in zip(draft.items(), status_ids, strict=True)
    ]
    try:
        balance, created = await generation.request_batch(session, specs, generation.price(draft))
    except InsufficientCredits as exc:
        await query.answer()
        await bot.send_message(
            chat_id,
            t(
                "error.insufficient_credits",
                lang,
                balance=exc.balance,
                needed=generation.price(draft) * draft.count,
            )
            + "\n"
            + t("buy.choose", lang),
            reply_markup=keyboards.buy(lang, payments.packages),
        )
        return
    # Committed: no Telegram or network error may skip a launch.
    try:
        await telegram_quietly(state.clear())
        key = "create.accepted_batch" if created else "create.already"
        await telegram_quietly(query.answer(t(key, lang, videos=len(specs), balance=balance)))
        if created and isinstance(message, Message):
            await telegram_quietly(message.edit_text(t("progress.pending", lang), reply_markup=None))
    finally:
        for spec in specs:
            await generation.launch(session, spec)
    if created:
        await referral.after_video(bot, session, user)


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
    text, markup = _confirm_screen(lang, draft, balance, generation, payments)
    await bot.send_message(chat_id, text, reply_markup=markup)


@router.callback_query(CreateVideo.confirm, FewerCallback.filter())
async def fewer(
    query: CallbackQuery,
    callback_data: FewerCallback,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    lang: str,
    accounts: AccountService,
    payments: PaymentService,
    generation: GenerationService,
) -> None:
    """Make fewer videos of an album: keep its first `count` photos, show the confirm again."""
    draft = await _draft(state)
    if draft is None or draft.token != callback_data.token or not 0 < callback_data.count <= draft.count:
        await query.answer(t("create.stale", lang), show_alert=True)
        return
    draft = draft.first(callback_data.count)
    await state.set_data(draft.to_data())
    await query.answer()
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


async def _cancel_text(
    session: AsyncSession, state: FSMContext, user: User, lang: str, generation: GenerationService, token: str
) -> str:
    """What Cancel did, as the database says: a request already paid is on its way (its credit
    stays spent until it is delivered or refunded); an unpaid one is dropped, nothing charged."""
    if not token:
        draft = await _draft(state)
        token = draft.token if draft is not None else ""
    await state.clear()
    if not token:
        return t("create.cancelled_plain", lang)
    paid = await generation.paid(session, user.id, token)
    if paid is not None:
        return t("create.on_its_way", lang, balance=paid)
    return t("create.cancelled", lang)


@router.callback_query(F.data == "cancel")  # buttons sent before Cancel carried a token
@router.callback_query(CancelCallback.filter())
async def cancel_button(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    lang: str,
    generation: GenerationService,
) -> None:
    token = CancelCallback.unpack(query.data).token if query.data and query.data != "cancel" else ""
    text = await _cancel_text(session, state, user, lang, generation, token)
    await query.answer()
    await edit_or_send(query, text, keyboards.main_menu(lang))


@router.message(Command("cancel"))
async def cancel_command(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    lang: str,
    generation: GenerationService,
) -> None:
    text = await _cancel_text(session, state, user, lang, generation, "")
    await message.answer(text, reply_markup=keyboards.main_menu(lang))


@router.message(CreateVideo.photo, ~F.text.startswith("/"))
async def waiting_for_photo(message: Message) -> None:
    raise InputError("not_a_photo", str(message.content_type))


@router.message(StateFilter(CreateVideo.options, CreateVideo.confirm), ~F.text.startswith("/"))
async def use_buttons(message: Message, lang: str) -> None:
    await message.answer(t("create.use_buttons", lang))

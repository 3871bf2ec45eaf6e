"""Texts assembled from several keys (menus, summaries, lists). Pure: data + language → text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from vidgen.analytics.queries import AdminStats
from vidgen.core.catalogue import MODELS
from vidgen.core.db.models import CreditEntry, Generation
from vidgen.core.settings import StarsPackage
from vidgen.core.texts import t

from .services.admin import UserCard
from .services.generation import Draft

PHASE_ICONS = {
    "Pending": "⏳",
    "Queued": "⏳",
    "Running": "🎬",
    "Generated": "📦",
    "Delivering": "📤",
    "Delivered": "✅",
    "Failed": "❌",
}


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def menu(lang: str, balance: int) -> str:
    return t("menu.text", lang, balance=balance)


def prompt_text(lang: str, prompt: str) -> str:
    return _short(prompt, 300) if prompt else t("create.prompt_auto", lang)


def album_header(lang: str, draft: Draft) -> str:
    """ "🖼 3 photos: one video each" above an album's screens; empty for one photo."""
    return t("album.header", lang, photos=draft.count) + "\n\n" if draft.count > 1 else ""


def options(lang: str, draft: Draft) -> str:
    text = t(
        "create.options",
        lang,
        model=MODELS[draft.model].title,
        aspect=t(f"aspect.{draft.aspect_ratio}", lang),
        duration=draft.seconds,
        prompt=prompt_text(lang, draft.prompt),
    )
    style = t(
        "create.style",
        lang,
        style=t(f"style.{draft.style}", lang),
        preview=t(f"style.{draft.style}.preview", lang),
    )
    return album_header(lang, draft) + text + "\n" + style


def confirm(lang: str, draft: Draft, cost: int, balance: int) -> str:
    """The confirm screen; `cost` is the price of one video. An album shows its count and total,
    and when the balance covers only some of them, says how many."""
    total = cost * draft.count
    if draft.count > 1:
        text = album_header(lang, draft) + t(
            "create.confirm_batch",
            lang,
            model=MODELS[draft.model].title,
            aspect=t(f"aspect.{draft.aspect_ratio}", lang),
            duration=draft.seconds,
            prompt=prompt_text(lang, draft.prompt),
            videos=draft.count,
            cost=cost,
            total=total,
            balance=balance,
        )
        if balance < total:
            affordable = balance // cost if cost else draft.count
            key = "create.batch_short" if affordable else "create.need_credits_batch"
            text += "\n\n" + t(key, lang, videos=affordable, balance=balance, needed=total)
        return text
    text = t(
        "create.confirm",
        lang,
        model=MODELS[draft.model].title,
        aspect=t(f"aspect.{draft.aspect_ratio}", lang),
        duration=draft.seconds,
        prompt=prompt_text(lang, draft.prompt),
        cost=cost,
        balance=balance,
    )
    if balance < cost:
        text += "\n\n" + t("create.need_credits", lang, balance=balance, needed=cost)
    return text


def packages(lang: str, items: Sequence[StarsPackage], balance: int) -> str:
    lines = [t("buy.title", lang, balance=balance)]
    lines += [t("buy.line", lang, credits=p.credits, stars=p.stars) for p in items]
    return "\n".join(lines)


def balance(lang: str, amount: int, entries: Sequence[CreditEntry], cost: int) -> str:
    lines = [t("balance.text", lang, balance=amount, videos=amount // cost, cost=cost)]
    if entries:
        lines.append("")
        lines.append(t("balance.recent", lang))
        for entry in entries:
            sign = "+" if entry.delta > 0 else "−"
            lines.append(
                t(
                    "balance.entry",
                    lang,
                    when=_when(entry.created_at),
                    delta=f"{sign}{abs(entry.delta)}",
                    kind=t(f"ledger.{entry.kind}", lang),
                )
            )
    return "\n".join(lines)


def history(lang: str, items: Sequence[Generation]) -> str:
    if not items:
        return t("history.empty", lang)
    lines = [t("history.title", lang)]
    for number, gen in enumerate(items, start=1):
        lines.append(
            t(
                "history.item",
                lang,
                number=number,
                icon=PHASE_ICONS.get(gen.phase, "•"),
                when=_when(gen.created_at),
                status=t(f"phase.{gen.phase}", lang) if gen.phase in PHASE_ICONS else gen.phase,
                prompt=prompt_text(lang, gen.prompt),
            )
        )
        if gen.refunded:
            lines.append(t("history.refunded", lang))
    return "\n".join(lines)


def stats(lang: str, figures: AdminStats) -> str:
    rate = "—" if figures.success_rate is None else f"{figures.success_rate:.0%}"
    return t(
        "admin.stats",
        lang,
        requests=figures.requests,
        delivered=figures.delivered,
        failed=figures.failed,
        rate=rate,
        queued=figures.queued,
        running=figures.running,
        refunds=figures.refunds,
        purchases=figures.purchases,
        stars=figures.stars,
    )


def user_card(lang: str, card: UserCard) -> str:
    user = card.user
    lines = [
        t(
            "admin.user",
            lang,
            id=user.id,
            username=f"@{user.username}" if user.username else "—",
            name=user.first_name or "—",
            language=user.language,
            balance=user.balance,
            blocked=t("yes" if user.is_blocked else "no", lang),
            created=_when(user.created_at),
            generations=card.generations,
            delivered=card.delivered,
            payments=card.payments,
            stars=card.stars,
        )
    ]
    for gen in card.last:
        lines.append(f"{PHASE_ICONS.get(gen.phase, '•')} {gen.name} {gen.phase} {_when(gen.created_at)}")
    return "\n".join(lines)

"""The credit ledger's rules, pure: entry kinds, their idempotency refs, and validation.
The database adapter (`vidgen.core.db.sqla_ledger`) applies these entries atomically."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import InvalidAmount, LedgerError


class EntryKind(StrEnum):
    SIGNUP_BONUS = "signup_bonus"
    DEBIT = "debit"
    REFUND = "refund"
    PURCHASE = "purchase"
    PURCHASE_REFUND = "purchase_refund"
    ADMIN_GRANT = "admin_grant"
    REFERRAL_BONUS = "referral_bonus"


@dataclass(frozen=True)
class Entry:
    """One ledger row to write; (kind, ref) is its natural idempotency key."""

    user_id: int
    delta: int
    kind: EntryKind
    ref: str
    actor: str | None = None
    reason: str | None = None


MAX_REF = 128


def _positive(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmount(f"amount must be a positive whole number, got {amount!r}")
    return amount


def _ref(ref: str) -> str:
    if not isinstance(ref, str) or not ref.strip() or len(ref) > MAX_REF:
        raise LedgerError(f"ref must be 1..{MAX_REF} characters")
    return ref


def signup_bonus(user_id: int, amount: int) -> Entry:
    return Entry(user_id, _positive(amount), EntryKind.SIGNUP_BONUS, str(user_id))


def debit(user_id: int, generation: str, amount: int) -> Entry:
    return Entry(user_id, -_positive(amount), EntryKind.DEBIT, _ref(generation))


def refund(user_id: int, generation: str, debited: int) -> Entry:
    """Give back what the generation's debit took (`debited` is that debit's positive size)."""
    return Entry(user_id, _positive(debited), EntryKind.REFUND, _ref(generation))


def purchase(user_id: int, charge_id: str, credits: int) -> Entry:
    return Entry(user_id, _positive(credits), EntryKind.PURCHASE, _ref(charge_id))


def purchase_refund(user_id: int, charge_id: str, credits: int) -> Entry:
    """Reverse a purchase whose Stars were refunded (may take the balance to zero, not below)."""
    return Entry(user_id, -_positive(credits), EntryKind.PURCHASE_REFUND, _ref(charge_id))


def admin_grant(user_id: int, amount: int, actor: str, reason: str, ref: str) -> Entry:
    if not actor or not reason or not reason.strip():
        raise LedgerError("an admin grant needs an actor and a reason")
    return Entry(
        user_id, _positive(amount), EntryKind.ADMIN_GRANT, _ref(ref), actor=actor, reason=reason.strip()[:500]
    )


def referral_bonus(user_id: int, amount: int, ref: str) -> Entry:
    """A referral bonus; `ref` names the invitation and the side ("invitee:<id>", "inviter:<id>"),
    so each is paid once whatever happens concurrently."""
    return Entry(user_id, _positive(amount), EntryKind.REFERRAL_BONUS, _ref(ref))

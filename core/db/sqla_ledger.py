"""The credit ledger on SQLAlchemy: every mutation is one conditional INSERT on the unique
(kind, ref) plus one conditional UPDATE of the cached balance, in the caller's transaction.

- A replay of the same (kind, ref) writes nothing and returns the current balance.
- The balance UPDATE is guarded by `balance + delta >= 0`, so concurrent debits can never take
  it below zero (PostgreSQL re-checks the guard after the row lock; SQLite serialises writers);
  a CHECK constraint on users.balance backs it up.
- Every error is typed and raised before anything is committed; the caller's transaction
  rolls back whatever was written.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import ledger
from ..errors import IdempotencyConflict, InsufficientCredits, NotDebited, UnknownUser
from ..ledger import Entry, EntryKind
from .engine import SessionMaker, dialect_insert, durable_commit, transaction
from .models import CreditEntry, User


async def balance_of(session: AsyncSession, user_id: int) -> int:
    value = await session.scalar(select(User.balance).where(User.id == user_id))
    if value is None:
        raise UnknownUser(user_id)
    return int(value)


async def apply(session: AsyncSession, entry: Entry) -> tuple[int, bool]:
    """Write `entry` once. Returns (balance after, whether this call wrote it). The transaction's
    commit waits for the WAL flush, whatever the session's default (`durable_commit`)."""
    await durable_commit(session)
    current = await balance_of(session, entry.user_id)
    stmt = (
        dialect_insert(session)(CreditEntry)
        .values(
            user_id=entry.user_id,
            delta=entry.delta,
            kind=str(entry.kind),
            ref=entry.ref,
            actor=entry.actor,
            reason=entry.reason,
        )
        .on_conflict_do_nothing(index_elements=["kind", "ref"])
        .returning(CreditEntry.id)
    )
    inserted = (await session.execute(stmt)).scalar_one_or_none()
    if inserted is None:
        existing = await session.scalar(
            select(CreditEntry).where(CreditEntry.kind == str(entry.kind), CreditEntry.ref == entry.ref)
        )
        if existing is None or existing.user_id != entry.user_id or existing.delta != entry.delta:
            raise IdempotencyConflict(f"{entry.kind}:{entry.ref} was already used differently")
        return await balance_of(session, entry.user_id), False
    new_balance = (
        await session.execute(
            update(User)
            .where(User.id == entry.user_id, User.balance + entry.delta >= 0)
            .values(balance=User.balance + entry.delta)
            .returning(User.balance)
        )
    ).scalar_one_or_none()
    if new_balance is None:
        raise InsufficientCredits(entry.user_id, current, -entry.delta)
    return int(new_balance), True


async def debit_generation(session: AsyncSession, user_id: int, generation: str, amount: int) -> int:
    balance, _ = await apply(session, ledger.debit(user_id, generation, amount))
    return balance


async def refund_generation(session: AsyncSession, generation: str) -> tuple[int, bool]:
    """Give back a generation's debit, once. Raises NotDebited if it never was debited."""
    debit = await session.scalar(
        select(CreditEntry).where(CreditEntry.kind == str(EntryKind.DEBIT), CreditEntry.ref == generation)
    )
    if debit is None:
        raise NotDebited(f"generation {generation} was never debited")
    return await apply(session, ledger.refund(debit.user_id, generation, -debit.delta))


async def reverse_purchase(
    session: AsyncSession, user_id: int, charge_id: str, credits: int
) -> tuple[int, int]:
    """Take back a refunded purchase's credits, as many as are left (never below zero).
    Returns (balance, credits taken)."""
    already = await session.scalar(
        select(CreditEntry.delta).where(
            CreditEntry.kind == str(EntryKind.PURCHASE_REFUND), CreditEntry.ref == charge_id
        )
    )
    if already is not None:
        return await balance_of(session, user_id), -int(already)
    take = min(credits, await balance_of(session, user_id))
    if take <= 0:
        return await balance_of(session, user_id), 0
    balance, _ = await apply(session, ledger.purchase_refund(user_id, charge_id, take))
    return balance, take


async def entries_sum(session: AsyncSession, user_id: int) -> int:
    value = await session.scalar(
        select(func.coalesce(func.sum(CreditEntry.delta), 0)).where(CreditEntry.user_id == user_id)
    )
    return int(value or 0)


class SqlLedger:
    """Convenience wrapper: each call in its own transaction."""

    def __init__(self, sessions: SessionMaker) -> None:
        self.sessions = sessions

    async def apply(self, entry: Entry) -> int:
        async with transaction(self.sessions) as session:
            balance, _ = await apply(session, entry)
            return balance

    async def signup_bonus(self, user_id: int, amount: int) -> int:
        return await self.apply(ledger.signup_bonus(user_id, amount))

    async def debit(self, user_id: int, generation: str, amount: int = 1) -> int:
        return await self.apply(ledger.debit(user_id, generation, amount))

    async def refund(self, generation: str) -> int:
        async with transaction(self.sessions) as session:
            balance, _ = await refund_generation(session, generation)
            return balance

    async def purchase(self, user_id: int, charge_id: str, credits: int) -> int:
        return await self.apply(ledger.purchase(user_id, charge_id, credits))

    async def grant(self, user_id: int, amount: int, actor: str, reason: str, ref: str) -> int:
        return await self.apply(ledger.admin_grant(user_id, amount, actor, reason, ref))

    async def balance(self, user_id: int) -> int:
        async with self.sessions() as session:
            return await balance_of(session, user_id)

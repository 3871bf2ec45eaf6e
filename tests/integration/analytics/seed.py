"""A small, fully known history for the analytics tests, written through the real code paths
(ensure_user, create_request, the ledger, update_mirror, events.record), each step then dated
to its moment in the story (all in UTC):

  D0 = Fri 2025-02-28   U1 signs up
  D1 = Mon 2025-03-03   U2, U3 sign up; g1, g2 (U1) and g3 (U2) delivered; g4 (U2) fails, refunded
  D2 = Tue 2025-03-04   U4 signs up; g5 (U3) fails, refunded; g6 (U3) delivered; U1 buys 5 credits;
                        g7 (U1) requested at 23:59
  D3 = Wed 2025-03-05   g7 delivered at 00:01; g8 (U2) still running; U5 signs up, g9 fails,
                        refunded; U2 buys 12 credits and is refunded; U4 gets an admin grant;
                        U5 buys 5 credits

The figures each view must return are written out by hand in test_views.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core import ledger
from vidgen.core.db import events
from vidgen.core.db.engine import SessionMaker, transaction
from vidgen.core.db.generations import create_request, update_mirror
from vidgen.core.db.models import Payment
from vidgen.core.db.sqla_ledger import apply, refund_generation, reverse_purchase
from vidgen.core.db.users import ensure_user
from vidgen.core.models import GenerationSpec

D0 = date(2025, 2, 28)
D1 = date(2025, 3, 3)
D2 = date(2025, 3, 4)
D3 = date(2025, 3, 5)
WEEK0 = date(2025, 2, 24)
WEEK1 = date(2025, 3, 3)
U1, U2, U3, U4, U5 = 101, 102, 103, 104, 105
STAMPED = ("events", "credit_entries", "users", "generations", "payments")


def at(day: date, clock: str) -> datetime:
    h, m, *s = (int(part) for part in clock.split(":"))
    return datetime(day.year, day.month, day.day, h, m, s[0] if s else 0, tzinfo=UTC)


class History:
    def __init__(self, sessions: SessionMaker) -> None:
        self.sessions = sessions
        self.start = datetime.now(UTC) - timedelta(seconds=1)

    async def step(self, when: datetime, action: Callable[[AsyncSession], Awaitable[Any]]) -> None:
        """Run `action` in one transaction, then date every row it created to `when`."""
        async with transaction(self.sessions) as session:
            await action(session)
            for table in STAMPED:
                await session.execute(
                    text(f"UPDATE {table} SET created_at = :when WHERE created_at >= :start"),
                    {"when": when, "start": self.start},
                )

    async def signup(self, user_id: int, when: datetime) -> None:
        await self.step(when, lambda s: ensure_user(s, user_id, free_credits=2, language="en"))

    async def request(self, user_id: int, name: str, when: datetime) -> None:
        spec = GenerationSpec(name=name, user_id=user_id, chat_id=user_id, photo=f"inputs/{name}.jpg")

        async def action(s: AsyncSession) -> None:
            await events.record(s, events.PHOTO_RECEIVED, user_id=user_id)
            await create_request(s, spec, cost=1)

        await self.step(when, action)

    async def start_job(self, user_id: int, name: str, when: datetime) -> None:
        async def action(s: AsyncSession) -> None:
            await update_mirror(s, name, phase="Running", attempts=1, started_at=when, queued_at=when)
            await events.record(s, events.GENERATION_STARTED, user_id=user_id, generation=name, attempt=1)

        await self.step(when, action)

    async def deliver(self, user_id: int, name: str, when: datetime, seconds: float) -> None:
        async def action(s: AsyncSession) -> None:
            await update_mirror(
                s,
                name,
                phase="Delivered",
                finished_at=when,
                video_key=f"outputs/{name}.mp4",
                video_duration=seconds,
                video_bytes=1000,
                telegram_file_id=f"file-{name}",
            )
            await events.record(s, events.GENERATION_SUCCEEDED, user_id=user_id, generation=name)
            await events.record(s, events.VIDEO_DELIVERED, user_id=user_id, generation=name)

        await self.step(when, action)

    async def fail(self, user_id: int, name: str, when: datetime, error_class: str, code: str) -> None:
        async def action(s: AsyncSession) -> None:
            await update_mirror(
                s,
                name,
                phase="Failed",
                finished_at=when,
                error_class=error_class,
                error_code=code,
                error_message="…",
                refunded=True,
            )
            await events.record(
                s, events.GENERATION_FAILED, user_id=user_id, generation=name, **{"class": error_class}
            )
            await refund_generation(s, name)
            await events.record(s, events.CREDITS_REFUNDED, user_id=user_id, generation=name)

        await self.step(when, action)

    async def pay(self, user_id: int, charge: str, stars: int, credits: int, when: datetime) -> None:
        async def invoice(s: AsyncSession) -> None:
            await events.record(s, events.INVOICE_SENT, user_id=user_id, package=f"p{credits}")

        async def action(s: AsyncSession) -> None:
            s.add(
                Payment(
                    charge_id=charge,
                    user_id=user_id,
                    package_id=f"p{credits}",
                    currency="XTR",
                    stars=stars,
                    credits=credits,
                )
            )
            await s.flush()
            await apply(s, ledger.purchase(user_id, charge, credits))
            await events.record(s, events.PAYMENT_SUCCEEDED, user_id=user_id, charge_id=charge, stars=stars)

        await self.step(when - timedelta(minutes=1), invoice)
        await self.step(when, action)

    async def refund_payment(self, user_id: int, charge: str, credits: int, when: datetime) -> None:
        async def action(s: AsyncSession) -> None:
            await s.execute(
                update(Payment).where(Payment.charge_id == charge).values(refunded=True, refunded_at=when)
            )
            await reverse_purchase(s, user_id, charge, credits)
            await events.record(s, events.PAYMENT_REFUNDED, user_id=user_id, charge_id=charge)

        await self.step(when, action)

    async def grant(self, user_id: int, amount: int, when: datetime) -> None:
        async def action(s: AsyncSession) -> None:
            await apply(s, ledger.admin_grant(user_id, amount, "admin:1", "support", f"grant-{user_id}"))
            await events.record(s, events.CREDITS_GRANTED, user_id=user_id, amount=amount)

        await self.step(when, action)

    async def anonymous_event(self, when: datetime) -> None:
        await self.step(when, lambda s: events.record(s, events.DELIVERY_FAILED, generation="vg-0-orphan"))


async def seed(sessions: SessionMaker) -> None:
    h = History(sessions)
    await h.signup(U1, at(D0, "10:00"))

    await h.signup(U2, at(D1, "09:00"))
    await h.signup(U3, at(D1, "09:30"))
    for user, name, req, start, end, seconds in [
        (U1, "vg-101-g1", "10:00:00", "10:00:30", "10:01:00", 10.0),  # 60 s (wait 30, run 30)
        (U1, "vg-101-g2", "11:00:00", "11:00:20", "11:02:00", 10.0),  # 120 s (20, 100)
        (U2, "vg-102-g3", "12:00:00", "12:01:00", "12:05:00", 15.0),  # 300 s (60, 240)
    ]:
        await h.request(user, name, at(D1, req))
        await h.start_job(user, name, at(D1, start))
        await h.deliver(user, name, at(D1, end), seconds)
    await h.request(U2, "vg-102-g4", at(D1, "13:00"))
    await h.start_job(U2, "vg-102-g4", at(D1, "13:00:10"))
    await h.fail(U2, "vg-102-g4", at(D1, "13:01"), "TEMPORARY", "provider_5xx")
    await h.anonymous_event(at(D1, "14:00"))

    await h.signup(U4, at(D2, "08:00"))
    await h.request(U3, "vg-103-g5", at(D2, "09:00"))
    await h.start_job(U3, "vg-103-g5", at(D2, "09:00:30"))
    await h.fail(U3, "vg-103-g5", at(D2, "09:02"), "USER_VIOLATION", "content_policy")
    await h.request(U3, "vg-103-g6", at(D2, "10:00:00"))
    await h.start_job(U3, "vg-103-g6", at(D2, "10:00:10"))
    await h.deliver(U3, "vg-103-g6", at(D2, "10:03:20"), 10.0)  # 200 s (10, 190)
    await h.pay(U1, "charge-1", 100, 5, at(D2, "12:00"))
    await h.request(U1, "vg-101-g7", at(D2, "23:59:00"))
    await h.start_job(U1, "vg-101-g7", at(D2, "23:59:30"))

    await h.deliver(U1, "vg-101-g7", at(D3, "00:01:00"), 10.0)  # 120 s (30, 90)
    await h.request(U2, "vg-102-g8", at(D3, "08:00"))
    await h.start_job(U2, "vg-102-g8", at(D3, "08:01"))
    await h.signup(U5, at(D3, "09:00"))
    await h.request(U5, "vg-105-g9", at(D3, "09:10"))
    await h.start_job(U5, "vg-105-g9", at(D3, "09:10:30"))
    await h.fail(U5, "vg-105-g9", at(D3, "09:15"), "TEMPORARY", "provider_5xx")
    await h.pay(U2, "charge-2", 200, 12, at(D3, "10:00"))
    await h.refund_payment(U2, "charge-2", 12, at(D3, "11:00"))
    await h.grant(U4, 3, at(D3, "14:00"))
    await h.pay(U5, "charge-3", 100, 5, at(D3, "15:00"))

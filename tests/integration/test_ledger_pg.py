"""The credit ledger on real PostgreSQL: exactly-once under concurrency, typed errors that write
nothing, and a state machine that keeps balance == sum(entries) >= 0."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func, select, text

from vidgen.core import ledger
from vidgen.core.db import sqla_ledger
from vidgen.core.db.engine import make_engine, make_sessionmaker, transaction
from vidgen.core.db.models import CreditEntry, Event, User
from vidgen.core.db.sqla_ledger import SqlLedger
from vidgen.core.db.users import ensure_user
from vidgen.core.errors import InsufficientCredits, InvalidAmount, NotDebited, UnknownUser

pytestmark = pytest.mark.postgres


async def new_user(sessions, user_id: int = 1, free: int = 2) -> None:
    async with transaction(sessions) as s:
        await ensure_user(s, user_id, free_credits=free)


async def count(sessions, model) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)))


async def test_signup_grants_once_even_concurrently(pg_sessions) -> None:
    results = await asyncio.gather(*(new_user(pg_sessions, 42) for _ in range(20)), return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert await SqlLedger(pg_sessions).balance(42) == 2
    assert await count(pg_sessions, CreditEntry) == 1
    assert await count(pg_sessions, Event) == 1  # one user_registered


async def test_fifty_concurrent_debits_against_two_credits(pg_sessions) -> None:
    await new_user(pg_sessions, 1, free=2)
    led = SqlLedger(pg_sessions)
    results = await asyncio.gather(*(led.debit(1, f"vg-1-{i}") for i in range(50)), return_exceptions=True)
    ok = [r for r in results if not isinstance(r, BaseException)]
    short = [r for r in results if isinstance(r, InsufficientCredits)]
    assert len(ok) == 2 and len(short) == 48
    assert sorted(ok) == [0, 1]
    assert await led.balance(1) == 0
    async with pg_sessions() as s:
        assert await sqla_ledger.entries_sum(s, 1) == 0


async def test_same_debit_twice_debits_once(pg_sessions) -> None:
    await new_user(pg_sessions, 1, free=2)
    led = SqlLedger(pg_sessions)
    results = await asyncio.gather(*(led.debit(1, "vg-1-same") for _ in range(20)))
    assert set(results) == {1}
    assert await led.balance(1) == 1


async def test_concurrent_refund_applies_once(pg_sessions) -> None:
    await new_user(pg_sessions, 1, free=2)
    led = SqlLedger(pg_sessions)
    await led.debit(1, "vg-1-a")
    results = await asyncio.gather(*(led.refund("vg-1-a") for _ in range(20)))
    assert set(results) == {2}
    assert await led.balance(1) == 2
    async with pg_sessions() as s:
        n = await s.scalar(select(func.count()).where(CreditEntry.kind == "refund"))
    assert n == 1


async def test_concurrent_purchase_applies_once(pg_sessions) -> None:
    await new_user(pg_sessions, 1, free=2)
    led = SqlLedger(pg_sessions)
    results = await asyncio.gather(*(led.purchase(1, "charge-xyz", 5) for _ in range(20)))
    assert set(results) == {7}
    assert await led.balance(1) == 7


async def test_bad_input_writes_nothing(pg_sessions) -> None:
    await new_user(pg_sessions, 1, free=2)
    led = SqlLedger(pg_sessions)
    before = await count(pg_sessions, CreditEntry)
    with pytest.raises(InvalidAmount):
        await led.debit(1, "vg-1-z", 0)
    with pytest.raises(InvalidAmount):
        await led.purchase(1, "c1", -5)
    with pytest.raises(UnknownUser):
        await led.debit(999, "vg-999-a")
    with pytest.raises(UnknownUser):
        await led.purchase(999, "c2", 5)
    with pytest.raises(NotDebited):
        await led.refund("vg-1-never")
    with pytest.raises(InsufficientCredits):
        await led.debit(1, "vg-1-big", 3)
    assert await count(pg_sessions, CreditEntry) == before
    assert await led.balance(1) == 2


async def test_failed_outer_transaction_rolls_back_the_debit(pg_sessions) -> None:
    await new_user(pg_sessions, 1, free=2)
    with pytest.raises(RuntimeError):
        async with transaction(pg_sessions) as s:
            await sqla_ledger.debit_generation(s, 1, "vg-1-a", 1)
            raise RuntimeError("crash before commit")
    assert await SqlLedger(pg_sessions).balance(1) == 2


async def test_admin_grant_records_actor_and_reason(pg_sessions) -> None:
    await new_user(pg_sessions, 1, free=0)
    led = SqlLedger(pg_sessions)
    assert await led.grant(1, 5, "admin:77", "support", "grant-1") == 5
    assert await led.grant(1, 5, "admin:77", "support", "grant-1") == 5
    async with pg_sessions() as s:
        row = await s.scalar(select(CreditEntry).where(CreditEntry.kind == "admin_grant"))
    assert (row.actor, row.reason, row.delta) == ("admin:77", "support", 5)


async def test_purchase_reversal_never_goes_negative(pg_sessions) -> None:
    await new_user(pg_sessions, 1, free=0)
    led = SqlLedger(pg_sessions)
    await led.purchase(1, "ch1", 5)
    await led.debit(1, "vg-1-a", 4)
    async with transaction(pg_sessions) as s:
        assert await sqla_ledger.reverse_purchase(s, 1, "ch1", 5) == (0, 1)
    async with transaction(pg_sessions) as s:
        assert await sqla_ledger.reverse_purchase(s, 1, "ch1", 5) == (0, 1)


async def test_balance_check_constraint(pg_sessions) -> None:
    await new_user(pg_sessions, 1, free=0)
    with pytest.raises(Exception, match="balance_not_negative"):
        async with transaction(pg_sessions) as s:
            await s.execute(text("UPDATE users SET balance = -1 WHERE id = 1"))


# --------------------------------------------------------------------------------------------


class LedgerMachine(RuleBasedStateMachine):
    """Random grant/debit/refund/purchase sequences; the cached balance always equals the sum of
    entries and never goes negative, and the model's expectations match the database."""

    url: str = ""

    @initialize()
    def setup(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.engine = make_engine(self.url, pool_size=2, max_overflow=0)
        self.sessions = make_sessionmaker(self.engine)
        self.led = SqlLedger(self.sessions)
        self.run(self._reset())
        self.expected = {1: 2, 2: 2}
        self.debited: dict[str, int] = {}
        self.refunded: set[str] = set()
        self.n = 0
        self.steps = 0
        self.purchased: set[str] = set()

    async def _reset(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                text("TRUNCATE events, outbox, payments, credit_entries, generations, users CASCADE")
            )
        for uid in (1, 2):
            async with transaction(self.sessions) as s:
                await ensure_user(s, uid, free_credits=2)

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        if hasattr(self, "engine"):
            self.run(self.engine.dispose())
            self.loop.close()

    @rule(user=st.sampled_from([1, 2]), amount=st.integers(1, 5))
    def grant(self, user: int, amount: int) -> None:
        self.n += 1
        self.run(self.led.grant(user, amount, "admin:1", "test", f"g{self.n}"))
        self.expected[user] += amount

    @rule(user=st.sampled_from([1, 2]), amount=st.integers(1, 3))
    def debit(self, user: int, amount: int) -> None:
        self.n += 1
        name = f"vg-{user}-{self.n}"
        try:
            self.run(self.led.debit(user, name, amount))
        except InsufficientCredits:
            assert self.expected[user] < amount
            return
        self.expected[user] -= amount
        self.debited[name] = user

    @precondition(lambda self: bool(self.debited))
    @rule(data=st.data())
    def refund(self, data) -> None:
        name = data.draw(st.sampled_from(sorted(self.debited)))
        user = self.debited[name]
        self.run(self.led.refund(name))
        if name not in self.refunded:
            amount = -self.run(self._delta("debit", name))
            self.expected[user] += amount
            self.refunded.add(name)

    async def _delta(self, kind: str, ref: str) -> int:
        async with self.sessions() as s:
            return int(
                await s.scalar(
                    select(CreditEntry.delta).where(CreditEntry.kind == kind, CreditEntry.ref == ref)
                )
            )

    @rule(user=st.sampled_from([1, 2]), charge=st.integers(0, 5))
    def purchase(self, user: int, charge: int) -> None:
        ref, credits = f"ch-{user}-{charge}", charge + 1  # a replayed charge carries the same credits
        self.run(self.led.purchase(user, ref, credits))
        if ref not in self.purchased:
            self.purchased.add(ref)
            self.expected[user] += credits
        self.steps += 1

    @invariant()
    def balances_match(self) -> None:
        if not hasattr(self, "sessions"):
            return
        for uid in (1, 2):
            cached, summed = self.run(self._balances(uid))
            assert cached == summed == self.expected[uid]
            assert cached >= 0

    async def _balances(self, uid: int) -> tuple[int, int]:
        async with self.sessions() as s:
            cached = await s.scalar(select(User.balance).where(User.id == uid))
            return int(cached), await sqla_ledger.entries_sum(s, uid)


def test_ledger_state_machine(pg_url: str) -> None:
    LedgerMachine.url = pg_url
    runner = LedgerMachine.TestCase
    runner.settings = settings(
        max_examples=25, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
    )
    runner("runTest").runTest()


def test_entry_rules_are_used(pg_url: str) -> None:
    # the adapter goes through core's rules: a zero refund cannot even be built
    with pytest.raises(InvalidAmount):
        ledger.refund(1, "vg", 0)


async def test_create_request_is_one_transaction_and_idempotent(pg_sessions) -> None:
    from vidgen.core.db import generations
    from vidgen.core.db.models import Generation, Outbox
    from vidgen.core.models import GenerationSpec

    await new_user(pg_sessions, 1, free=2)
    spec = GenerationSpec(name="vg-1-abc", user_id=1, chat_id=1, photo="inputs/vg-1-abc.jpg", prompt="hi")

    async def confirm() -> tuple[int, bool]:
        async with transaction(pg_sessions) as s:
            return await generations.create_request(s, spec, cost=1)

    results = await asyncio.gather(*(confirm() for _ in range(10)), return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert sorted(created for _, created in results) == [False] * 9 + [True]
    assert {balance for balance, _ in results} == {1}
    assert await count(pg_sessions, Generation) == 1
    assert await count(pg_sessions, Outbox) == 1
    async with pg_sessions() as s:
        assert len(await generations.pending_launches(s)) == 1
    async with transaction(pg_sessions) as s:
        await generations.mark_launched(s, "vg-1-abc")
    async with pg_sessions() as s:
        assert await generations.pending_launches(s) == []


async def test_create_request_short_balance_writes_nothing(pg_sessions) -> None:
    from vidgen.core.db import generations
    from vidgen.core.db.models import Generation, Outbox
    from vidgen.core.models import GenerationSpec

    await new_user(pg_sessions, 1, free=0)
    spec = GenerationSpec(name="vg-1-x", user_id=1, chat_id=1, photo="inputs/vg-1-x.jpg")
    with pytest.raises(InsufficientCredits):
        async with transaction(pg_sessions) as s:
            await generations.create_request(s, spec, cost=1)
    assert await count(pg_sessions, Generation) == 0
    assert await count(pg_sessions, Outbox) == 0
    assert await count(pg_sessions, Event) == 1  # only user_registered

"""Each analytics view, on real PostgreSQL (migrated to head, so migration 0002 created them),
returns the figures computed by hand from the seeded history (see seed.py for the story)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.integration.analytics.seed import D0, D1, D2, D3, U1, U2, U3, U4, U5, WEEK0, WEEK1, at, seed
from vidgen.analytics import views
from vidgen.analytics.queries import admin_stats
from vidgen.core.db.engine import SessionMaker

pytestmark = pytest.mark.postgres


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


async def rows(sessions: SessionMaker, view: str, columns: str, order: str) -> list[tuple[Any, ...]]:
    async with sessions() as s:
        result = await s.execute(text(f"SELECT {columns} FROM {view} ORDER BY {order}"))
        return [tuple(_plain(v) for v in row) for row in result]


@pytest.fixture
async def history(pg_sessions: SessionMaker) -> SessionMaker:
    await seed(pg_sessions)
    return pg_sessions


async def test_migration_created_every_view(pg_sessions: SessionMaker) -> None:
    async with pg_sessions() as s:
        present = set(
            (await s.scalars(text("SELECT viewname FROM pg_views WHERE viewname LIKE 'analytics_%'"))).all()
        )
    assert present == set(views.names())
    assert len(present) == 12


async def test_views_are_empty_without_history(pg_sessions: SessionMaker) -> None:
    async with pg_sessions() as s:
        for name in views.names():
            assert await s.scalar(text(f"SELECT count(*) FROM {name}")) == 0, name


async def test_videos_per_day(history: SessionMaker) -> None:
    # delivered: D1 g1 g2 (U1) g3 (U2, 15 s video); D2 g6; D3 g7 (requested D2 23:59, delivered D3)
    assert await rows(history, "analytics_videos_per_day", "day, videos, users, video_seconds", "day") == [
        (D1, 3, 2, 35.0),
        (D2, 1, 1, 10.0),
        (D3, 1, 1, 10.0),
    ]


async def test_success_rate_per_day(history: SessionMaker) -> None:
    # by request day: D1 g1-g4 (g4 failed); D2 g5 (failed) g6 g7; D3 g8 (running) g9 (failed)
    got = await rows(
        history,
        "analytics_success_rate_per_day",
        "day, requested, delivered, failed, unfinished, refunded, success_rate",
        "day",
    )
    assert got == [
        (D1, 4, 3, 1, 0, 1, 0.75),
        (D2, 3, 2, 1, 0, 1, 0.6667),
        (D3, 2, 0, 1, 1, 1, 0.0),
    ]


async def test_generation_durations(history: SessionMaker) -> None:
    got = await rows(
        history,
        "analytics_generation_durations",
        "name, user_id, day, total_seconds, wait_seconds, run_seconds",
        "name",
    )
    assert got == [
        ("vg-101-g1", U1, D1, 60.0, 30.0, 30.0),
        ("vg-101-g2", U1, D1, 120.0, 20.0, 100.0),
        ("vg-101-g7", U1, D3, 120.0, 30.0, 90.0),
        ("vg-102-g3", U2, D1, 300.0, 60.0, 240.0),
        ("vg-103-g6", U3, D2, 200.0, 10.0, 190.0),
    ]


async def test_generation_time_per_day(history: SessionMaker) -> None:
    # D1: 60, 120, 300 s → avg 160; p50 120; p95 = 120 + 0.9 × (300 − 120) = 282 (linear, like
    # percentile_cont); waits 30, 20, 60 → 36.7; runs 30, 100, 240 → 123.3
    got = await rows(
        history,
        "analytics_generation_time_per_day",
        "day, videos, avg_seconds, p50_seconds, p95_seconds, avg_wait_seconds, avg_run_seconds",
        "day",
    )
    assert got == [
        (D1, 3, 160.0, 120.0, 282.0, 36.7, 123.3),
        (D2, 1, 200.0, 200.0, 200.0, 10.0, 190.0),
        (D3, 1, 120.0, 120.0, 120.0, 30.0, 90.0),
    ]


async def test_credit_usage_per_day(history: SessionMaker) -> None:
    # D0: U1's bonus 2. D1: bonuses U2, U3 (4); debits g1-g4 (4); refund g4 (1).
    # D2: bonus U4 (2); debits g5-g7 (3); refund g5 (1); U1 buys 5.
    # D3: bonus U5 (2) + grant U4 (3); debits g8, g9 (2); refund g9 (1); U2 buys 12, U5 buys 5;
    #     U2's 12 taken back when the payment is refunded.
    got = await rows(
        history,
        "analytics_credit_usage_per_day",
        "day, granted, bought, spent, refunded, reversed, net",
        "day",
    )
    assert got == [
        (D0, 2, 0, 0, 0, 0, 2),
        (D1, 4, 0, 4, 1, 0, 1),
        (D2, 2, 5, 3, 1, 0, 5),
        (D3, 5, 17, 2, 1, 12, 9),
    ]


async def test_errors_per_day_and_distribution(history: SessionMaker) -> None:
    got = await rows(
        history,
        "analytics_errors_per_day",
        "day, error_class, error_code, failures, refunded, users",
        "day, error_class",
    )
    assert got == [
        (D1, "TEMPORARY", "provider_5xx", 1, 1, 1),
        (D2, "USER_VIOLATION", "content_policy", 1, 1, 1),
        (D3, "TEMPORARY", "provider_5xx", 1, 1, 1),
    ]
    got = await rows(
        history,
        "analytics_error_distribution",
        "error_class, error_code, failures, share, refunded, first_day, last_day",
        "failures DESC",
    )
    assert got == [
        ("TEMPORARY", "provider_5xx", 2, 0.6667, 2, D1, D3),
        ("USER_VIOLATION", "content_policy", 1, 0.3333, 1, D2, D2),
    ]


async def test_user_funnel(history: SessionMaker) -> None:
    got = await rows(
        history,
        "analytics_user_funnel",
        "user_id, signed_up_at, first_video_at, first_purchase_at",
        "user_id",
    )
    assert got == [
        (U1, at(D0, "10:00"), at(D1, "10:01"), at(D2, "12:00")),
        (U2, at(D1, "09:00"), at(D1, "12:05"), at(D3, "10:00")),  # a refunded purchase still counts
        (U3, at(D1, "09:30"), at(D2, "10:03:20"), None),
        (U4, at(D2, "08:00"), None, None),
        (U5, at(D3, "09:00"), None, at(D3, "15:00")),  # bought, but never got a video
    ]


async def test_funnel(history: SessionMaker) -> None:
    # D0 cohort: U1 → video 72 h 1 min later → bought. D1: U2 (3 h 05 min to video, bought),
    # U3 (24 h 33 min 20 s, never bought) → avg (3.0833 + 24.5556) / 2 = 13.82 h.
    # D3: U5 bought without a video, so does not count at the purchase step.
    got = await rows(
        history,
        "analytics_funnel",
        "cohort_day, signups, first_video, first_purchase, video_rate, purchase_rate, avg_hours_to_first_video",
        "cohort_day",
    )
    assert got == [
        (D0, 1, 1, 1, 1.0, 1.0, 72.02),
        (D1, 2, 2, 1, 1.0, 0.5, 13.82),
        (D2, 1, 0, 0, 0.0, 0.0, None),
        (D3, 1, 0, 0, 0.0, 0.0, None),
    ]


async def test_stars_revenue_per_day(history: SessionMaker) -> None:
    # D2: U1 100 ★. D3: U2 200 ★ (refunded), U5 100 ★ → net 100.
    got = await rows(
        history,
        "analytics_stars_revenue_per_day",
        "day, payments, buyers, gross_stars, refunded_payments, refunded_stars, net_stars, net_credits",
        "day",
    )
    assert got == [
        (D2, 1, 1, 100, 0, 0, 100, 5),
        (D3, 2, 2, 300, 1, 200, 100, 5),
    ]


async def test_active_users(history: SessionMaker) -> None:
    # D0: U1. D1: U1, U2, U3 (the event without a user does not count). D2: U1, U3, U4.
    # D3: U1 (g7 delivered at 00:01), U2, U4 (grant), U5.
    got = await rows(history, "analytics_active_users_daily", "day, active_users, new_users", "day")
    assert got == [(D0, 1, 1), (D1, 3, 2), (D2, 3, 1), (D3, 4, 1)]
    got = await rows(history, "analytics_active_users_weekly", "week, active_users, new_users", "week")
    assert got == [(WEEK0, 1, 1), (WEEK1, 5, 4)]


async def test_days_are_utc_whatever_the_session_time_zone(history: SessionMaker) -> None:
    async with history() as s:
        await s.execute(text("SET TIME ZONE 'America/Los_Angeles'"))
        got = (await s.execute(text("SELECT day, videos FROM analytics_videos_per_day ORDER BY day"))).all()
    assert [tuple(r) for r in got] == [(D1, 3), (D2, 1), (D3, 1)]


async def test_admin_stats_over_the_same_history(history: SessionMaker) -> None:
    async with history() as s:
        stats = await admin_stats(s, at(D3, "00:00"))
    # requested since D3: g8 (running), g9 (failed); g7 was requested on D2
    assert stats.requests == 2 and stats.delivered == 0 and stats.failed == 1
    assert stats.success_rate == 0.0
    assert stats.queued == 0 and stats.running == 1
    assert stats.refunds == 1  # g9
    assert stats.purchases == 2 and stats.stars == 100  # charge-2 was refunded


def test_migration_0002_up_down_on_postgres_and_skipped_on_sqlite(pg_url: str, tmp_path: Path) -> None:
    import uuid

    import psycopg
    from sqlalchemy import create_engine, inspect

    from vidgen.core.db.migrate import downgrade, upgrade

    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"vidgen_views_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        upgrade(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            assert set(inspect(conn).get_view_names()) == set(views.names())
        downgrade(url, "0001")
        with engine.connect() as conn:
            assert inspect(conn).get_view_names() == []
            assert "generations" in inspect(conn).get_table_names()  # 0001's tables stay
        upgrade(url)
        with engine.connect() as conn:
            assert set(inspect(conn).get_view_names()) == set(views.names())
        engine.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    sqlite = f"sqlite:///{tmp_path / 'local.db'}"
    upgrade(sqlite, "0002")
    engine = create_engine(sqlite)
    with engine.connect() as conn:
        assert inspect(conn).get_view_names() == []
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0002"
    engine.dispose()
    downgrade(sqlite, "0001")

"""`vidgen analytics report`: the views' figures for a period as plain-text tables."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.integration.analytics.seed import D1, D3, WEEK1, seed
from vidgen.analytics.errors import ViewsUnavailable
from vidgen.analytics.report import collect, render
from vidgen.cli import main
from vidgen.core.db.engine import SessionMaker

EXPECTED_DAYS = """\
day         videos  requests  failed  success  avg s  p50 s  p95 s  granted  bought  spent  refunded  stars  active
----------  ------  --------  ------  -------  -----  -----  -----  -------  ------  -----  --------  -----  ------
2025-03-03       3         4       1    75.0%  160.0  120.0  282.0        4       0      4         1      0       3
2025-03-04       1         3       1    66.7%  200.0  200.0  200.0        2       5      3         1    100       3
2025-03-05       1         2       1     0.0%  120.0  120.0  120.0        5      17      2         1    100       4
total            5         9       3    62.5%  160.0  120.0  280.0       11      22      9         3    200       5
"""

EXPECTED_SECTIONS = """\
Errors by class and code
class           code            failures  refunded
--------------  --------------  --------  --------
TEMPORARY       provider_5xx           2         2
USER_VIOLATION  content_policy         1         1

Funnel (users who signed up in the period)
step            users  of signups
--------------  -----  ----------
signed up           4      100.0%
first video         2       50.0%
first purchase      1       25.0%

Weekly active users (weeks start on Monday)
week        active  new
----------  ------  ---
2025-03-03       5    4
"""


@pytest.fixture
async def history(pg_sessions: SessionMaker) -> SessionMaker:
    await seed(pg_sessions)
    return pg_sessions


@pytest.mark.postgres
async def test_collect_matches_the_views(history: SessionMaker) -> None:
    async with history() as s:
        report = await collect(s, 3, D3)
    assert (report.first_day, report.last_day) == (D1, D3)
    assert [d.day for d in report.days] == [D1, D1.replace(day=4), D3]
    d1 = report.days[0]
    assert (d1.videos, d1.requested, d1.delivered, d1.failed, d1.success_rate) == (3, 4, 3, 1, 0.75)
    assert (d1.avg_seconds, d1.p50_seconds, d1.p95_seconds) == (160.0, 120.0, 282.0)
    t = report.total
    # the period's percentiles come from all five durations: 60, 120, 120, 200, 300
    # → p50 120, p95 = 200 + 0.8 × (300 − 200) = 280; success 5 of 8 finished
    assert (t.videos, t.requested, t.delivered, t.failed) == (5, 9, 5, 3)
    assert (t.success_rate, t.avg_seconds, t.p50_seconds, t.p95_seconds) == (0.625, 160.0, 120.0, 280.0)
    assert (t.granted, t.bought, t.spent, t.refunded, t.net_stars, t.active_users) == (11, 22, 9, 3, 200, 5)
    assert [(w.week, w.active_users, w.new_users) for w in report.weeks] == [(WEEK1, 5, 4)]


@pytest.mark.postgres
async def test_render(history: SessionMaker) -> None:
    async with history() as s:
        out = render(await collect(s, 3, D3))
    assert out.startswith("vidgen analytics: 2025-03-03 … 2025-03-05 (3 days, UTC)\n\n" + EXPECTED_DAYS)
    assert out.endswith(EXPECTED_SECTIONS)


@pytest.mark.postgres
async def test_quiet_days_show_zeros_and_dashes(history: SessionMaker) -> None:
    async with history() as s:
        out = render(await collect(s, 1, D1.replace(day=1)))  # a Saturday without activity
        far = render(await collect(s, 1, D1.replace(year=2024)))
    assert "2025-03-01       0         0       0        —      —      —      —        0" in out
    assert "no failed generations" in out
    assert "2025-02-24       1    1" in out  # the week the day belongs to had U1's signup
    assert "first video         0           —" in out
    assert "no activity" in far


@pytest.mark.postgres
async def test_cli_report(history: SessionMaker, pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["analytics", "report", "--days", "3", "--until", "2025-03-05", "--database-url", pg_url]
    with pytest.raises(SystemExit) as exit_:
        await asyncio.to_thread(main, argv)
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert EXPECTED_DAYS in out and out.endswith(EXPECTED_SECTIONS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "0"], "must be between 1 and 3660"),
        (["--days", "week"], "not a whole number"),
        (["--until", "05/03/2025"], "not a date"),
    ],
)
def test_cli_report_refuses_bad_arguments(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["analytics", "report", *args])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


async def test_report_on_sqlite_says_it_needs_postgresql(
    sqlite_sessions: SessionMaker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with sqlite_sessions() as s:
        with pytest.raises(ViewsUnavailable, match="need PostgreSQL"):
            await collect(s, 7, D3)
    url = f"sqlite+aiosqlite:///{tmp_path / 'vidgen.db'}"  # the fixture's database
    with pytest.raises(SystemExit) as exit_:
        await asyncio.to_thread(main, ["analytics", "report", "--database-url", url])
    assert exit_.value.code == 1
    assert "the analytics views need PostgreSQL (this database is sqlite)" in capsys.readouterr().err


@pytest.mark.postgres
async def test_report_without_the_views_says_to_migrate(pg_sessions: SessionMaker) -> None:
    from sqlalchemy import text

    async with pg_sessions() as s:
        await s.execute(text("DROP VIEW analytics_active_users_weekly"))  # in a transaction …
        try:
            with pytest.raises(ViewsUnavailable, match="run `vidgen migrate`"):
                await collect(s, 7, D3)
        finally:
            await s.rollback()  # … rolled back: the shared test database keeps its view

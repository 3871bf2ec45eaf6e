"""`vidgen analytics report`: the dashboard's figures as plain-text tables, for an admin without
Metabase. Every figure is read from the analytics_* views (the same ones the Metabase questions
use); only the period's totals that cannot be summed from daily rows (percentiles, distinct
users) are computed over the same rows with the same definitions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from . import views
from .errors import ViewsUnavailable

#: The daily figures whose period total is their sum.
SUMMED = ("videos", "requested", "delivered", "failed", "granted", "bought", "spent", "refunded", "net_stars")


@dataclass(frozen=True)
class Figures:
    """One day's figures, or the whole period's (`day` None)."""

    day: date | None
    videos: int = 0  # delivered that day
    requested: int = 0  # requests made that day …
    delivered: int = 0  # … and how they ended
    failed: int = 0
    success_rate: float | None = None  # delivered ÷ (delivered + failed)
    avg_seconds: float | None = None  # request → delivered, videos delivered that day
    p50_seconds: float | None = None
    p95_seconds: float | None = None
    granted: int = 0  # credits: signup bonus + admin grants
    bought: int = 0
    spent: int = 0
    refunded: int = 0
    net_stars: int = 0  # Stars paid that day, less payments refunded since
    active_users: int = 0


@dataclass(frozen=True)
class ErrorFigures:
    error_class: str
    error_code: str
    failures: int
    refunded: int


@dataclass(frozen=True)
class FunnelFigures:
    signups: int = 0
    first_video: int = 0
    first_purchase: int = 0


@dataclass(frozen=True)
class WeekFigures:
    week: date
    active_users: int
    new_users: int


@dataclass(frozen=True)
class Report:
    first_day: date
    last_day: date
    days: list[Figures]
    total: Figures
    errors: list[ErrorFigures] = field(default_factory=list)
    funnel: FunnelFigures = field(default_factory=FunnelFigures)
    weeks: list[WeekFigures] = field(default_factory=list)


def _num(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


async def _rows(session: AsyncSession, sql: str, **params: Any) -> list[dict[str, Any]]:
    result = await session.execute(text(sql), params)
    return [{k: _num(v) for k, v in row.items()} for row in result.mappings()]


async def _by_day(session: AsyncSession, view: str, columns: str, first: date, last: date) -> dict[date, Any]:
    rows = await _rows(
        session,
        f"SELECT day, {columns} FROM {view} WHERE day BETWEEN :first AND :last",
        first=first,
        last=last,
    )
    return {row.pop("day"): row for row in rows}


def _rate(delivered: int, failed: int) -> float | None:
    return round(delivered / (delivered + failed), 4) if delivered + failed else None


async def collect(session: AsyncSession, days: int, until: date) -> Report:
    """The figures of the `days` days ending with `until` (UTC days, both ends included)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    dialect = session.get_bind().dialect.name
    if not views.supported(dialect):
        raise ViewsUnavailable(
            f"the analytics views need PostgreSQL (this database is {dialect}); "
            "use the bot's /stats, or point VIDGEN_DATABASE_URL at PostgreSQL"
        )
    missing = await session.scalar(
        text("SELECT count(*) FROM pg_views WHERE viewname = ANY(:names)"), {"names": views.names()}
    )
    if missing != len(views.names()):
        raise ViewsUnavailable("the analytics views are missing: run `vidgen migrate` first")

    first = until - timedelta(days=days - 1)
    videos = await _by_day(session, "analytics_videos_per_day", "videos", first, until)
    success = await _by_day(
        session, "analytics_success_rate_per_day", "requested, delivered, failed, success_rate", first, until
    )
    timing = await _by_day(
        session, "analytics_generation_time_per_day", "avg_seconds, p50_seconds, p95_seconds", first, until
    )
    credits = await _by_day(
        session, "analytics_credit_usage_per_day", "granted, bought, spent, refunded", first, until
    )
    stars = await _by_day(session, "analytics_stars_revenue_per_day", "net_stars", first, until)
    active = await _by_day(session, "analytics_active_users_daily", "active_users", first, until)

    daily: list[Figures] = []
    for n in range(days):
        day = first + timedelta(days=n)
        values: dict[str, Any] = {}
        for source in (videos, success, timing, credits, stars, active):
            values.update(source.get(day, {}))
        daily.append(Figures(day=day, **values))

    period = (
        await _rows(
            session,
            """
            SELECT round(avg(total_seconds)::numeric, 1) AS avg_seconds,
                   round((percentile_cont(0.5) WITHIN GROUP (ORDER BY total_seconds))::numeric, 1)
                       AS p50_seconds,
                   round((percentile_cont(0.95) WITHIN GROUP (ORDER BY total_seconds))::numeric, 1)
                       AS p95_seconds
            FROM analytics_generation_durations WHERE day BETWEEN :first AND :last
            """,
            first=first,
            last=until,
        )
    )[0]
    period_active = await session.scalar(
        text(
            "SELECT count(DISTINCT user_id) FROM events WHERE user_id IS NOT NULL "
            "AND (created_at AT TIME ZONE 'UTC')::date BETWEEN :first AND :last"
        ),
        {"first": first, "last": until},
    )
    sums = {name: sum(getattr(d, name) for d in daily) for name in SUMMED}
    total = Figures(
        day=None,
        success_rate=_rate(sums["delivered"], sums["failed"]),
        active_users=int(period_active or 0),
        **period,
        **sums,
    )

    errors = [
        ErrorFigures(**row)
        for row in await _rows(
            session,
            """
            SELECT error_class, error_code, sum(failures)::int AS failures, sum(refunded)::int AS refunded
            FROM analytics_errors_per_day WHERE day BETWEEN :first AND :last
            GROUP BY error_class, error_code ORDER BY failures DESC, error_class, error_code
            """,
            first=first,
            last=until,
        )
    ]
    funnel_row = (
        await _rows(
            session,
            """
            SELECT coalesce(sum(signups), 0)::int AS signups,
                   coalesce(sum(first_video), 0)::int AS first_video,
                   coalesce(sum(first_purchase), 0)::int AS first_purchase
            FROM analytics_funnel WHERE cohort_day BETWEEN :first AND :last
            """,
            first=first,
            last=until,
        )
    )[0]
    weeks = [
        WeekFigures(**row)
        for row in await _rows(
            session,
            """
            SELECT week, active_users, new_users FROM analytics_active_users_weekly
            WHERE week BETWEEN date_trunc('week', CAST(:first AS date))::date AND :last ORDER BY week
            """,
            first=first,
            last=until,
        )
    ]
    return Report(first, until, daily, total, errors, FunnelFigures(**funnel_row), weeks)


# --- rendering ---------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A plain-text table: the first `left` columns aligned left, the others right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


DAY_HEADERS = (
    "day",
    "videos",
    "requests",
    "failed",
    "success",
    "avg s",
    "p50 s",
    "p95 s",
    "granted",
    "bought",
    "spent",
    "refunded",
    "stars",
    "active",
)


def _day_row(label: str, f: Figures) -> list[str]:
    return [
        label,
        _cell(f.videos),
        _cell(f.requested),
        _cell(f.failed),
        _percent(f.success_rate),
        _cell(f.avg_seconds),
        _cell(f.p50_seconds),
        _cell(f.p95_seconds),
        _cell(f.granted),
        _cell(f.bought),
        _cell(f.spent),
        _cell(f.refunded),
        _cell(f.net_stars),
        _cell(f.active_users),
    ]


def render(report: Report) -> str:
    n = len(report.days)
    out = [
        f"vidgen analytics: {report.first_day} … {report.last_day} ({n} day{'s' if n != 1 else ''}, UTC)",
        "",
        table(
            DAY_HEADERS, [*(_day_row(str(d.day), d) for d in report.days), _day_row("total", report.total)]
        ),
        "",
        "videos: delivered that day; requests/failed/success: requests made that day and how they ended;",
        "avg/p50/p95 s: request → delivered; granted/bought/spent/refunded: credits; stars: net of refunds;",
        "active: users with an event that day (total: in the period).",
        "",
        "Errors by class and code",
    ]
    if report.errors:
        out.append(
            table(
                ("class", "code", "failures", "refunded"),
                [
                    [e.error_class, e.error_code or "—", str(e.failures), str(e.refunded)]
                    for e in report.errors
                ],
                left=2,
            )
        )
    else:
        out.append("no failed generations")
    f = report.funnel
    out += ["", "Funnel (users who signed up in the period)"]
    out.append(
        table(
            ("step", "users", "of signups"),
            [
                [step, str(users), _percent(users / f.signups if f.signups else None)]
                for step, users in (
                    ("signed up", f.signups),
                    ("first video", f.first_video),
                    ("first purchase", f.first_purchase),
                )
            ],
        )
    )
    out += ["", "Weekly active users (weeks start on Monday)"]
    if report.weeks:
        out.append(
            table(
                ("week", "active", "new"),
                [[str(w.week), str(w.active_users), str(w.new_users)] for w in report.weeks],
            )
        )
    else:
        out.append("no activity")
    return "\n".join(out) + "\n"

"""analytics views

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 08:00:00

The views as they were at this revision: a migration carries its own SQL, so editing a view in
analytics/sql/ never rewrites history (a test checks this copy against the files only as long as
no later revision changes a view). They use PostgreSQL's date/time functions and
percentile_cont, so on SQLite (local mode) this revision creates nothing and says so;
`vidgen analytics report` then explains that it needs PostgreSQL.
To change a view later: edit its .sql file and add a revision that drops and re-creates the
views with their new SQL written into that revision.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

#: (view, CREATE VIEW statement), in creation order.
VIEWS: list[tuple[str, str]] = [
    (
        "analytics_videos_per_day",
        """
-- Videos delivered per day (UTC day of delivery).
CREATE VIEW analytics_videos_per_day AS
SELECT
    (COALESCE(g.finished_at, g.updated_at) AT TIME ZONE 'UTC')::date AS day,
    count(*) AS videos,
    count(DISTINCT g.user_id) AS users,
    COALESCE(sum(g.video_duration), 0)::double precision AS video_seconds
FROM generations AS g
WHERE g.phase = 'Delivered'
GROUP BY 1
""",
    ),
    (
        "analytics_success_rate_per_day",
        """
-- Requests per day (UTC day of the request) and how they ended.
CREATE VIEW analytics_success_rate_per_day AS
SELECT
    (g.created_at AT TIME ZONE 'UTC')::date AS day,
    count(*) AS requested,
    count(*) FILTER (WHERE g.phase = 'Delivered') AS delivered,
    count(*) FILTER (WHERE g.phase = 'Failed') AS failed,
    count(*) FILTER (WHERE g.phase NOT IN ('Delivered', 'Failed')) AS unfinished,
    count(*) FILTER (WHERE g.refunded) AS refunded,
    round(
        count(*) FILTER (WHERE g.phase = 'Delivered')::numeric
        / NULLIF(count(*) FILTER (WHERE g.phase IN ('Delivered', 'Failed')), 0),
        4
    ) AS success_rate
FROM generations AS g
GROUP BY 1
""",
    ),
    (
        "analytics_generation_durations",
        """
-- One row per delivered generation: how long it took (request → delivered), split into the
-- wait before its Job started and the run after it.
CREATE VIEW analytics_generation_durations AS
SELECT
    g.name,
    g.user_id,
    g.model,
    g.attempts,
    (g.finished_at AT TIME ZONE 'UTC')::date AS day,
    EXTRACT(EPOCH FROM g.finished_at - g.created_at)::double precision AS total_seconds,
    EXTRACT(EPOCH FROM g.started_at - g.created_at)::double precision AS wait_seconds,
    EXTRACT(EPOCH FROM g.finished_at - g.started_at)::double precision AS run_seconds
FROM generations AS g
WHERE g.phase = 'Delivered' AND g.finished_at IS NOT NULL
""",
    ),
    (
        "analytics_generation_time_per_day",
        """
-- Generation time per day of delivery: average, median and 95th percentile (seconds).
CREATE VIEW analytics_generation_time_per_day AS
SELECT
    d.day,
    count(*) AS videos,
    round(avg(d.total_seconds)::numeric, 1) AS avg_seconds,
    round((percentile_cont(0.5) WITHIN GROUP (ORDER BY d.total_seconds))::numeric, 1) AS p50_seconds,
    round((percentile_cont(0.95) WITHIN GROUP (ORDER BY d.total_seconds))::numeric, 1) AS p95_seconds,
    round(avg(d.wait_seconds)::numeric, 1) AS avg_wait_seconds,
    round(avg(d.run_seconds)::numeric, 1) AS avg_run_seconds
FROM analytics_generation_durations AS d
GROUP BY d.day
""",
    ),
    (
        "analytics_credit_usage_per_day",
        """
-- Credits per day from the ledger, each as a positive amount; net is the balance change.
CREATE VIEW analytics_credit_usage_per_day AS
SELECT
    (c.created_at AT TIME ZONE 'UTC')::date AS day,
    COALESCE(sum(c.delta) FILTER (WHERE c.kind IN ('signup_bonus', 'admin_grant')), 0) AS granted,
    COALESCE(sum(c.delta) FILTER (WHERE c.kind = 'purchase'), 0) AS bought,
    COALESCE(-sum(c.delta) FILTER (WHERE c.kind = 'debit'), 0) AS spent,
    COALESCE(sum(c.delta) FILTER (WHERE c.kind = 'refund'), 0) AS refunded,
    COALESCE(-sum(c.delta) FILTER (WHERE c.kind = 'purchase_refund'), 0) AS reversed,
    sum(c.delta) AS net
FROM credit_entries AS c
GROUP BY 1
""",
    ),
    (
        "analytics_errors_per_day",
        """
-- Failed generations per day of failure, by error class and code.
CREATE VIEW analytics_errors_per_day AS
SELECT
    (COALESCE(g.finished_at, g.updated_at) AT TIME ZONE 'UTC')::date AS day,
    COALESCE(g.error_class, 'UNKNOWN') AS error_class,
    COALESCE(g.error_code, '') AS error_code,
    count(*) AS failures,
    count(*) FILTER (WHERE g.refunded) AS refunded,
    count(DISTINCT g.user_id) AS users
FROM generations AS g
WHERE g.phase = 'Failed'
GROUP BY 1, 2, 3
""",
    ),
    (
        "analytics_error_distribution",
        """
-- All failures ever, by error class and code, with each pair's share of all failures.
CREATE VIEW analytics_error_distribution AS
SELECT
    e.error_class,
    e.error_code,
    sum(e.failures)::bigint AS failures,
    round(sum(e.failures) / sum(sum(e.failures)) OVER (), 4) AS share,
    sum(e.refunded)::bigint AS refunded,
    min(e.day) AS first_day,
    max(e.day) AS last_day
FROM analytics_errors_per_day AS e
GROUP BY e.error_class, e.error_code
""",
    ),
    (
        "analytics_user_funnel",
        """
-- One row per user: when they signed up, got their first video, made their first purchase.
CREATE VIEW analytics_user_funnel AS
SELECT
    u.id AS user_id,
    u.created_at AS signed_up_at,
    v.first_video_at,
    p.first_purchase_at
FROM users AS u
LEFT JOIN (
    SELECT g.user_id, min(COALESCE(g.finished_at, g.updated_at)) AS first_video_at
    FROM generations AS g
    WHERE g.phase = 'Delivered'
    GROUP BY g.user_id
) AS v ON v.user_id = u.id
LEFT JOIN (
    SELECT pay.user_id, min(pay.created_at) AS first_purchase_at
    FROM payments AS pay
    GROUP BY pay.user_id
) AS p ON p.user_id = u.id
""",
    ),
    (
        "analytics_funnel",
        """
-- The funnel signup → first video → first purchase, per signup day (cohort). A user counts at
-- a step when they reached it and every step before it.
CREATE VIEW analytics_funnel AS
SELECT
    (f.signed_up_at AT TIME ZONE 'UTC')::date AS cohort_day,
    count(*) AS signups,
    count(f.first_video_at) AS first_video,
    count(*) FILTER (WHERE f.first_video_at IS NOT NULL AND f.first_purchase_at IS NOT NULL) AS first_purchase,
    round(count(f.first_video_at)::numeric / count(*), 4) AS video_rate,
    round(
        count(*) FILTER (WHERE f.first_video_at IS NOT NULL AND f.first_purchase_at IS NOT NULL)::numeric
        / count(*),
        4
    ) AS purchase_rate,
    round((avg(EXTRACT(EPOCH FROM f.first_video_at - f.signed_up_at)) / 3600)::numeric, 2)
        AS avg_hours_to_first_video
FROM analytics_user_funnel AS f
GROUP BY 1
""",
    ),
    (
        "analytics_stars_revenue_per_day",
        """
-- Telegram Stars revenue per day of payment; net leaves out payments refunded since.
CREATE VIEW analytics_stars_revenue_per_day AS
SELECT
    (p.created_at AT TIME ZONE 'UTC')::date AS day,
    count(*) AS payments,
    count(DISTINCT p.user_id) AS buyers,
    sum(p.stars) AS gross_stars,
    count(*) FILTER (WHERE p.refunded) AS refunded_payments,
    COALESCE(sum(p.stars) FILTER (WHERE p.refunded), 0) AS refunded_stars,
    COALESCE(sum(p.stars) FILTER (WHERE NOT p.refunded), 0) AS net_stars,
    COALESCE(sum(p.credits) FILTER (WHERE NOT p.refunded), 0) AS net_credits
FROM payments AS p
WHERE p.currency = 'XTR'
GROUP BY 1
""",
    ),
    (
        "analytics_active_users_daily",
        """
-- Active users per day: a user is active on a day when they have an event that day.
CREATE VIEW analytics_active_users_daily AS
SELECT
    (e.created_at AT TIME ZONE 'UTC')::date AS day,
    count(DISTINCT e.user_id) AS active_users,
    count(DISTINCT e.user_id) FILTER (WHERE e.type = 'user_registered') AS new_users
FROM events AS e
WHERE e.user_id IS NOT NULL
GROUP BY 1
""",
    ),
    (
        "analytics_active_users_weekly",
        """
-- Active users per ISO week (starting Monday, UTC): users with an event that week.
CREATE VIEW analytics_active_users_weekly AS
SELECT
    date_trunc('week', e.created_at AT TIME ZONE 'UTC')::date AS week,
    count(DISTINCT e.user_id) AS active_users,
    count(DISTINCT e.user_id) FILTER (WHERE e.type = 'user_registered') AS new_users
FROM events AS e
WHERE e.user_id IS NOT NULL
GROUP BY 1
""",
    ),
]


def _supported() -> bool:
    dialect = op.get_bind().dialect.name
    if dialect != "postgresql":
        log.info("analytics views need PostgreSQL; skipped on %s", dialect)
        return False
    return True


def upgrade() -> None:
    if not _supported():
        return
    for _name, sql in VIEWS:
        op.execute(sa.text(sql))


def downgrade() -> None:
    if not _supported():
        return
    for name, _sql in reversed(VIEWS):
        op.execute(sa.text(f"DROP VIEW IF EXISTS {name}"))

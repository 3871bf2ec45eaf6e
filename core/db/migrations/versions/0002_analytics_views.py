"""analytics views

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 08:00:00

The views' SQL lives in analytics/sql/ (vidgen.analytics.views reads it). They use PostgreSQL's
date/time functions and percentile_cont, so on SQLite (local mode) this revision creates nothing
and says so; `vidgen analytics report` then explains that it needs PostgreSQL.
To change a view later: edit its .sql file and add a revision that drops and re-creates the
views (the same two loops as below).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from vidgen.analytics import views

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")


def _supported() -> bool:
    dialect = op.get_bind().dialect.name
    if not views.supported(dialect):
        log.info("analytics views need PostgreSQL; skipped on %s", dialect)
        return False
    return True


def upgrade() -> None:
    if not _supported():
        return
    for view in views.load():
        op.execute(sa.text(view.sql))


def downgrade() -> None:
    if not _supported():
        return
    for view in reversed(views.load()):
        op.execute(sa.text(view.drop_sql))

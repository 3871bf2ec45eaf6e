"""The analytics views: their SQL lives in `analytics/sql/NN_<view>.sql` (one view per file, in
creation order), and the Alembic migrations create and drop them from there."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

SQL_PACKAGE = "vidgen.analytics.sql"
FILE_RE = re.compile(r"^\d{2}_(analytics_[a-z0-9_]+)\.sql$")
DIALECT = "postgresql"


@dataclass(frozen=True)
class View:
    name: str
    sql: str  # one CREATE VIEW statement

    @property
    def drop_sql(self) -> str:
        return f"DROP VIEW IF EXISTS {self.name}"


def load() -> list[View]:
    """Every view, in creation order (a view only depends on the ones before it)."""
    views: list[View] = []
    for entry in sorted(resources.files(SQL_PACKAGE).iterdir(), key=lambda e: e.name):
        match = FILE_RE.match(entry.name)
        if not match:
            continue
        sql = entry.read_text(encoding="utf-8").strip().rstrip(";").strip()
        name = match.group(1)
        if not re.search(rf"\bCREATE VIEW {name} AS\b", sql):
            raise ValueError(f"{entry.name} must hold `CREATE VIEW {name} AS …`")
        views.append(View(name, sql))
    return views


def names() -> list[str]:
    return [v.name for v in load()]


def supported(dialect: str) -> bool:
    """The views use PostgreSQL's date/time functions and percentile_cont: PostgreSQL only."""
    return dialect == DIALECT

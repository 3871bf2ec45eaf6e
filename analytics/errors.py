"""Typed errors of the analytics commands; each message is one line an admin can act on."""

from __future__ import annotations

from vidgen.core.errors import VidgenError


class AnalyticsError(VidgenError):
    """Base of the analytics errors (admin-facing, never shown to Telegram users)."""


class ViewsUnavailable(AnalyticsError):
    """The database has no analytics views (SQLite, or not migrated)."""


class SpecError(AnalyticsError):
    """A question or the dashboard in analytics/metabase/ is malformed."""


class MetabaseError(AnalyticsError):
    """Metabase refused a request, or what it answered is not what vidgen needs."""

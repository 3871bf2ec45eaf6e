"""`vidgen analytics provision` (Metabase questions and dashboard, idempotent) and
`vidgen analytics report` (the same figures as plain-text tables)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= n <= 3660:
        raise argparse.ArgumentTypeError("must be between 1 and 3660")
    return n


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("analytics", help="analytics: Metabase dashboards as code, reports")
    commands = p.add_subparsers(dest="analytics_command", metavar="SUBCOMMAND", required=True)

    prov = commands.add_parser(
        "provision", help="create or update the questions and the dashboard in Metabase (idempotent)"
    )
    prov.add_argument("--metabase-url", help="Metabase base URL (default: VIDGEN_METABASE_URL)")
    prov.add_argument("--username", help="Metabase login (default: VIDGEN_METABASE_USER)")
    prov.add_argument("--password", help="Metabase password (default: VIDGEN_METABASE_PASSWORD)")
    prov.add_argument(
        "--database-name", help="vidgen's database as named in Metabase (default: VIDGEN_METABASE_DATABASE)"
    )
    prov.add_argument(
        "--collection", default=None, help="collection to keep them in (default: vidgen analytics)"
    )
    prov.set_defaults(handler=run_provision)

    rep = commands.add_parser("report", help="print the analytics figures as plain-text tables")
    rep.add_argument("--days", type=_positive, default=7, help="number of days (default 7)")
    rep.add_argument("--until", type=_day, default=None, help="last day, YYYY-MM-DD (default: today, UTC)")
    rep.add_argument("--database-url", help="SQLAlchemy URL (default: VIDGEN_DATABASE_URL)")
    rep.set_defaults(handler=run_report)


def run_provision(args: argparse.Namespace) -> int:
    import asyncio

    from vidgen.core.settings import ConfigError, load_settings

    from .errors import AnalyticsError
    from .metabase.provision import DEFAULT_COLLECTION, provision
    from .metabase.spec import load

    settings = load_settings()
    url = args.metabase_url or settings.metabase_url
    username = args.username or settings.metabase_user
    password = args.password or settings.secret("metabase_password")
    for value, name in ((url, "metabase_url"), (username, "metabase_user"), (password, "metabase_password")):
        if not value:
            raise ConfigError(f"missing setting VIDGEN_{name.upper()} (or its command-line option)")
    assert url and username and password
    database = args.database_name or settings.metabase_database
    try:
        outcome = asyncio.run(
            provision(
                url,
                username,
                password,
                database,
                spec=load(),
                collection=args.collection or DEFAULT_COLLECTION,
            )
        )
    except AnalyticsError as exc:
        print(f"vidgen analytics provision: {exc}", file=sys.stderr)
        return 1
    print(f"Metabase at {url}: {outcome.summary()}")
    print(f"dashboard: {url.rstrip('/')}/dashboard/{outcome.dashboard_id}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    import asyncio

    from sqlalchemy.exc import OperationalError

    from vidgen.core.db.engine import make_engine, make_sessionmaker
    from vidgen.core.settings import load_settings

    from .errors import AnalyticsError
    from .report import collect, render

    url = args.database_url or load_settings().database_url
    until = args.until or datetime.now(UTC).date()

    async def main() -> str:
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session:
                return render(await collect(session, args.days, until))
        finally:
            await engine.dispose()

    try:
        sys.stdout.write(asyncio.run(main()))
    except AnalyticsError as exc:
        print(f"vidgen analytics report: {exc}", file=sys.stderr)
        return 1
    except OperationalError as exc:
        print(f"vidgen analytics report: cannot read the database: {exc.orig}", file=sys.stderr)
        return 1
    return 0

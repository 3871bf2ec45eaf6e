"""`vidgen migrate`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("migrate", help="upgrade the database to the latest schema")
    p.add_argument("--database-url", help="SQLAlchemy URL (default: VIDGEN_DATABASE_URL or ./vidgen.db)")
    p.add_argument("--revision", help="target revision (default: head; base with --downgrade)")
    p.add_argument("--downgrade", action="store_true", help="downgrade to --revision instead")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from vidgen.core.logging import configure_logging, get_logger
    from vidgen.core.settings import load_settings

    from .migrate import downgrade, upgrade

    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)  # Alembic's lines too
    url = args.database_url or settings.database_url
    target = args.revision or ("base" if args.downgrade else "head")
    (downgrade if args.downgrade else upgrade)(url, target)
    if settings.log_format == "json":
        get_logger("vidgen.migrate").info("database migrated", revision=target, database=url.split("@")[-1])
    else:
        print(f"database at {target}: {url.split('@')[-1]}")
    return 0

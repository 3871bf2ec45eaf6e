"""`vidgen api` (the HTTP API in cluster mode) and `vidgen api-keys create|list|revoke|ping`.
Heavy imports happen inside the handlers."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_USAGE = 2


def register(sub: Any) -> None:
    api = sub.add_parser(
        "api",
        help="serve the HTTP API for third-party developers (cluster mode)",
        description="The HTTP API (/v1, OpenAPI at /openapi.json, docs at /docs) and its webhook "
        "dispatcher; generations are launched as VideoGeneration objects. Listens on "
        "VIDGEN_API_HOST:VIDGEN_API_PORT (default 0.0.0.0:8000).",
    )
    api.add_argument("--port", type=int, default=None, help="overrides VIDGEN_API_PORT")
    api.set_defaults(handler=run_api)

    keys = sub.add_parser("api-keys", help="make, list and revoke HTTP API keys; send a test webhook")
    ksub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = ksub.add_parser("create", help="a new key for an account (printed once)")
    create.add_argument("--user-id", type=int, required=True, help="the account (a Telegram user id)")
    create.add_argument("--name", default="", help="a label for the key")
    create.set_defaults(handler=run_create)
    listing = ksub.add_parser("list", help="the keys (prefix, account, name, state)")
    listing.add_argument("--user-id", type=int, default=None)
    listing.set_defaults(handler=run_list)
    revoke = ksub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id", type=int)
    revoke.set_defaults(handler=run_revoke)
    ping = ksub.add_parser("ping", help="send a signed webhook.test message with a key's secret")
    ping.add_argument("key_id", type=int)
    ping.add_argument("--url", required=True, help="the receiver")
    ping.set_defaults(handler=run_ping)


def _db(settings: Any) -> Any:
    """The database, migrated first (quietly), and its sessions."""
    import logging

    from vidgen.core.db.engine import make_engine, make_sessionmaker
    from vidgen.core.db.migrate import upgrade

    logging.getLogger("alembic").setLevel(logging.WARNING)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    return engine, make_sessionmaker(engine)


def run_create(args: argparse.Namespace) -> int:
    import asyncio

    from vidgen.core.db.api_keys import create_key
    from vidgen.core.db.engine import transaction
    from vidgen.core.settings import load_settings

    if args.user_id < 1:
        print("vidgen api-keys: --user-id must be a positive account id (0 is reserved)", file=sys.stderr)
        return EXIT_USAGE
    settings = load_settings()

    async def main() -> Any:
        engine, sessions = _db(settings)
        try:
            async with transaction(sessions) as session:
                return await create_key(session, args.user_id, args.name, free_credits=settings.free_credits)
        finally:
            await engine.dispose()

    from vidgen.core.db.api_keys import KeyNameTaken

    try:
        new = asyncio.run(main())
    except KeyNameTaken as exc:
        print(f"vidgen api-keys: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"key id:         {new.id} (account {new.user_id})")
    print(f"API key:        {new.key}")
    print(f"webhook secret: {new.webhook_secret}")
    print("Both are shown only now: keep them somewhere safe.", file=sys.stderr)
    return 0


def run_list(args: argparse.Namespace) -> int:
    import asyncio

    from vidgen.core.db.api_keys import list_keys
    from vidgen.core.settings import load_settings

    settings = load_settings()

    async def main() -> Any:
        engine, sessions = _db(settings)
        try:
            async with sessions() as session:
                return await list_keys(session, args.user_id)
        finally:
            await engine.dispose()

    for key in asyncio.run(main()):
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        print(f"{key.id}\tvgk_{key.prefix}_…\taccount {key.user_id}\t{key.name or '-'}\t{state}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    import asyncio

    from vidgen.core.db.api_keys import revoke_key
    from vidgen.core.db.engine import transaction
    from vidgen.core.settings import load_settings

    settings = load_settings()

    async def main() -> bool:
        engine, sessions = _db(settings)
        try:
            async with transaction(sessions) as session:
                return bool(await revoke_key(session, args.key_id))
        finally:
            await engine.dispose()

    if not asyncio.run(main()):
        print(f"vidgen api-keys: no key {args.key_id}", file=sys.stderr)
        return 1
    print(f"key {args.key_id} revoked")
    return 0


def run_ping(args: argparse.Namespace) -> int:
    import asyncio

    from sqlalchemy import select

    from vidgen.core.db.models import ApiKey
    from vidgen.core.settings import load_settings

    from .netguard import UrlPolicy, UrlRefused, check_url
    from .webhooks import WebhookSender, send_ping

    settings = load_settings()
    # The operator runs this by hand: loopback is fine; other private addresses follow the setting.
    policy = UrlPolicy(allow_loopback=True, allow_private=settings.api_allow_private_webhooks)

    async def main() -> Any:
        engine, sessions = _db(settings)
        try:
            async with sessions() as session:
                secret = await session.scalar(select(ApiKey.webhook_secret).where(ApiKey.id == args.key_id))
        finally:
            await engine.dispose()
        if secret is None:
            return None
        await check_url(args.url, policy)
        return await send_ping(WebhookSender(settings.webhook_timeout_seconds, policy), args.url, secret)

    try:
        result = asyncio.run(main())
    except UrlRefused as exc:
        print(f"vidgen api-keys: {args.url}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if result is None:
        print(f"vidgen api-keys: no key {args.key_id}", file=sys.stderr)
        return 1
    if result.ok:
        print(f"delivered: HTTP {result.status}")
        return 0
    print(f"not delivered: {result.error}", file=sys.stderr)
    return 1


def run_api(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from vidgen.core.db.engine import make_engine, make_sessionmaker
    from vidgen.core.logging import configure_logging
    from vidgen.core.settings import load_settings
    from vidgen.operator.k8s_launcher import KubernetesLauncher
    from vidgen.storage import open_storage

    from .server import serve_api

    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    port = args.port or settings.api_port or 8000

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        engine = make_engine(settings.database_url)
        launcher = KubernetesLauncher.from_settings(settings)
        try:
            await serve_api(
                settings,
                make_sessionmaker(engine),
                open_storage(settings),
                launcher,
                launcher,
                stop,
                port=port,
            )
        finally:
            await engine.dispose()

    asyncio.run(main())
    return 0

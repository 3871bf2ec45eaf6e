"""`vidgen bot`: run the Telegram bot (polling by default, or webhook) in cluster mode."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("bot", help="run the Telegram bot (needs VIDGEN_TELEGRAM_TOKEN)")
    p.add_argument(
        "--mode", choices=["polling", "webhook"], help="override VIDGEN_BOT_MODE (default: polling)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from vidgen.core.settings import load_settings

    overrides = {"bot_mode": args.mode} if args.mode else {}
    settings = load_settings(**overrides)
    settings.require("telegram_token")
    if settings.bot_mode == "webhook":
        settings.require("webhook_url", "webhook_secret")

    from .app import main

    asyncio.run(main(settings))
    return 0

"""`vidgen local` (bot + local controller + runner subprocesses) and `vidgen generate PHOTO` (one
video from the command line). Heavy imports happen inside the handlers."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from vidgen.core.catalogue import DEFAULT_MODEL, MODELS

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def register(sub: Any) -> None:
    local = sub.add_parser(
        "local",
        help="run the bot, a local controller and the runner on this machine (no cluster)",
        description="The bot (polling), a local controller and one runner subprocess per attempt, "
        "on SQLite ./vidgen.db and ./data by default (VIDGEN_DATABASE_URL, VIDGEN_STORAGE_URL for "
        "PostgreSQL/S3). Needs VIDGEN_TELEGRAM_TOKEN, or VIDGEN_API_PORT for the HTTP API (both: "
        "both run); without VIDGEN_KIE_API_KEY the sandbox provider makes the videos. Ctrl-C "
        "stops; running videos resume at the next start.",
    )
    local.set_defaults(handler=run_local)

    gen = sub.add_parser(
        "generate",
        help="make one video from a photo on the command line (sandbox provider without a KIE key)",
        description="One generation through the local controller and the runner, with a progress "
        "bar; prints the MP4's path at the end. Needs no Telegram and no account.",
    )
    gen.add_argument("photo", help="a JPEG, PNG or WebP photo")
    gen.add_argument("--prompt", default="", help="what should happen in the video")
    gen.add_argument("--model", default=None, help=f"one of: {', '.join(MODELS)} (default {DEFAULT_MODEL})")
    gen.add_argument("--aspect-ratio", choices=("portrait", "landscape"), default="portrait")
    gen.add_argument("--out", default=None, help="where the MP4 goes (default ./out/<name>.mp4)")
    gen.add_argument(
        "--sandbox", action="store_true", help="use the sandbox provider even if VIDGEN_KIE_API_KEY is set"
    )
    gen.set_defaults(handler=run_generate)


def _install_stop(loop: Any, event: Any) -> None:
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, event.set)


def run_local(args: argparse.Namespace) -> int:
    import asyncio

    from vidgen.core.logging import configure_logging
    from vidgen.core.settings import load_settings

    settings = load_settings()
    if settings.api_port is None:
        settings.require("telegram_token")  # a ConfigError: one line, exit 2 (vidgen.cli)
    configure_logging(settings.log_format, settings.log_level)  # before the modules bind loggers
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its start-up chatter

    from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError

    from .app import LocalModeError
    from .app import run_local as serve_local

    async def main() -> None:
        stop = asyncio.Event()
        _install_stop(asyncio.get_running_loop(), stop)
        await serve_local(settings, stop)

    try:
        asyncio.run(main())
    except LocalModeError as exc:
        print(f"vidgen local: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TelegramUnauthorizedError:
        print("vidgen local: Telegram refused the bot token (VIDGEN_TELEGRAM_TOKEN)", file=sys.stderr)
        return EXIT_USAGE
    except TelegramNetworkError as exc:
        print(f"vidgen local: cannot reach Telegram: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def run_generate(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from vidgen.core.logging import configure_logging
    from vidgen.core.settings import load_settings

    overrides: dict[str, Any] = {"kie_api_key": None} if args.sandbox else {}
    settings = load_settings(**overrides)
    # The progress bar owns the terminal: only warnings are logged (VIDGEN_LOG_LEVEL=DEBUG for more).
    level = settings.log_level if settings.log_level.upper() == "DEBUG" else "WARNING"
    configure_logging(settings.log_format, level)  # before the modules bind their loggers
    logging.getLogger("alembic").setLevel(logging.WARNING)

    from .generate import GenerateError, generate

    async def main() -> Any:
        cancel = asyncio.Event()
        _install_stop(asyncio.get_running_loop(), cancel)
        return await generate(
            settings,
            Path(args.photo),
            prompt=args.prompt,
            model=args.model,
            aspect_ratio=args.aspect_ratio,
            out=Path(args.out) if args.out else None,
            cancel=cancel,
        )

    try:
        outcome = asyncio.run(main())
    except GenerateError as exc:
        print(f"vidgen generate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if outcome.ok:
        print(outcome.video)
        return 0
    if outcome.cancelled:
        print(f"vidgen generate: cancelled. {outcome.message or ''}".rstrip(), file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"vidgen generate: {outcome.message or 'the video could not be made'}", file=sys.stderr)
    return EXIT_FAILED

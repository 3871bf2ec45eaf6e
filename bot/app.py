"""Running the bot: polling (default) or webhook (aiohttp; the secret token is checked on every
request; `/healthz` and `/metrics` beside it), with the outbox sweeper in the background.

Cluster mode (`vidgen bot`) uses the Kubernetes launcher; local mode calls `serve(...)` with its
own launcher (the local controller) and its own sessions/storage.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import BotCommand
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from sqlalchemy import text

from vidgen.core.db.engine import SessionMaker
from vidgen.core.logging import get_logger
from vidgen.core.ports import GenerationLauncher, Storage
from vidgen.core.settings import Settings
from vidgen.core.texts import LANGUAGES, t

from . import metrics
from .dispatcher import create_bot, create_dispatcher
from .retention import RetentionSweeper
from .sweeper import OutboxSweeper

log = get_logger(__name__)

COMMANDS = (
    "start",
    "create",
    "balance",
    "buy",
    "history",
    "help",
    "language",
    "paysupport",
    "terms",
    "forget",
)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def set_commands(bot: Bot) -> None:
    """The command menu in both languages (Telegram picks by the user's language)."""
    for lang in LANGUAGES:
        commands = [BotCommand(command=c, description=t(f"command.{c}", lang)) for c in COMMANDS]
        await bot.set_my_commands(commands, language_code=None if lang == "en" else lang)


def webhook_app(
    settings: Settings,
    dp: Dispatcher,
    bot: Bot,
    *,
    sessions: SessionMaker | None = None,
    handle_in_background: bool = True,
) -> web.Application:
    """The webhook server: POST `webhook_path` (refused with 401 without the right
    `X-Telegram-Bot-Api-Secret-Token`), GET /healthz (the database answers), GET /metrics."""
    settings.require("webhook_secret")
    secret = settings.secret("webhook_secret")
    app = web.Application()
    SimpleRequestHandler(
        dispatcher=dp, bot=bot, secret_token=secret, handle_in_background=handle_in_background
    ).register(app, path=settings.webhook_path)

    async def healthz(request: web.Request) -> web.Response:
        if sessions is not None:
            try:
                async with sessions() as session:
                    await asyncio.wait_for(session.execute(text("SELECT 1")), 3)
            except Exception as exc:
                log.warning("health check failed", error=repr(exc))
                return web.Response(status=503, text="database unavailable")
        return web.Response(text="ok")

    async def metrics_endpoint(request: web.Request) -> web.Response:
        body, content_type = metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_endpoint)
    setup_application(app, dp, bot=bot)
    return app


async def _register_webhook(settings: Settings, dp: Dispatcher, bot: Bot) -> None:
    settings.require("webhook_url", "webhook_secret")
    url = str(settings.webhook_url).rstrip("/")
    if not url.endswith(settings.webhook_path):
        url += settings.webhook_path
    await bot.set_webhook(
        url,
        secret_token=settings.secret("webhook_secret"),
        allowed_updates=dp.resolve_used_update_types(),
    )
    log.info("webhook registered", url=url)


async def serve(
    settings: Settings,
    *,
    sessions: SessionMaker,
    storage: Storage,
    launcher: GenerationLauncher,
    bot: Bot | None = None,
    fsm_storage: BaseStorage | None = None,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
    **extra: Any,
) -> None:
    """Run the bot until stopped (a signal, or `stop` being set): polling or webhook per
    `settings.bot_mode`, plus the outbox and retention sweepers. Closes the bot's HTTP session at the end."""
    bot = bot or create_bot(settings)
    dp = create_dispatcher(
        settings, sessions=sessions, storage=storage, launcher=launcher, fsm_storage=fsm_storage, **extra
    )
    sweeper = OutboxSweeper(settings, sessions, launcher, bot)
    sweeper_stop = asyncio.Event()
    sweeper_task = asyncio.create_task(sweeper.run(sweeper_stop), name="vidgen-outbox-sweeper")
    retention_task = asyncio.create_task(
        RetentionSweeper(settings, sessions, storage).run(sweeper_stop), name="vidgen-retention-sweeper"
    )
    try:
        await set_commands(bot)
        if settings.bot_mode == "webhook":
            await _serve_webhook(settings, dp, bot, sessions, stop)
        else:
            await _serve_polling(settings, dp, bot, stop, handle_signals)
    finally:
        sweeper_stop.set()
        await sweeper_task
        await retention_task
        await bot.session.close()  # the dispatcher's shutdown closed the conversation storage


async def _serve_polling(
    settings: Settings, dp: Dispatcher, bot: Bot, stop: asyncio.Event | None, handle_signals: bool
) -> None:
    from prometheus_client import start_http_server

    metrics_server = None
    try:
        metrics_server, _ = start_http_server(settings.metrics_port)
    except OSError as exc:  # the port may be taken (local mode next to an operator)
        log.warning("metrics server not started", port=settings.metrics_port, error=repr(exc))
    try:
        await bot.delete_webhook()
        polling = asyncio.create_task(
            dp.start_polling(
                bot,
                allowed_updates=dp.resolve_used_update_types(),
                handle_signals=handle_signals,
                close_bot_session=False,
            )
        )
        if stop is None:
            await polling
            return
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({polling, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not polling.done():
            await dp.stop_polling()
            await polling
        waiter.cancel()
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
            metrics_server.server_close()


async def _serve_webhook(
    settings: Settings, dp: Dispatcher, bot: Bot, sessions: SessionMaker, stop: asyncio.Event | None
) -> None:
    app = webhook_app(settings, dp, bot, sessions=sessions)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
        await site.start()
        log.info("webhook server listening", host=settings.webhook_host, port=settings.webhook_port)
        # Only now, so Telegram never calls before the server listens.
        await _register_webhook(settings, dp, bot)
        await (stop or asyncio.Event()).wait()
    finally:
        await runner.cleanup()


async def main(settings: Settings) -> None:
    """`vidgen bot`: cluster mode (the Kubernetes launcher) on the configured database/storage."""
    from vidgen.core.db.engine import make_engine, make_sessionmaker
    from vidgen.core.logging import configure_logging
    from vidgen.operator.k8s_launcher import KubernetesLauncher
    from vidgen.storage import open_storage

    configure_logging(settings.log_format, settings.log_level)
    bot = create_bot(settings)
    engine = make_engine(settings.database_url, relaxed_commit=True)
    try:
        await serve(
            settings,
            sessions=make_sessionmaker(engine),
            storage=open_storage(settings),
            launcher=KubernetesLauncher.from_settings(settings),
            bot=bot,
        )
    finally:
        await engine.dispose()

"""Composition of the HTTP API process: the service over the shared database and storage, the
webhook dispatcher beside it, served by uvicorn. `serve_api` runs until `stop` is set; `vidgen
api` (cluster mode) launches through the Kubernetes API, `vidgen local` through the local
controller."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from vidgen.core.db.engine import SessionMaker
from vidgen.core.logging import get_logger
from vidgen.core.ports import GenerationLauncher, Storage
from vidgen.core.settings import Settings

from .app import ApiContext, create_app
from .links import LinkSigner
from .metrics import ApiMetrics
from .netguard import UrlPolicy
from .ports import GenerationCanceller
from .ratelimit import RateLimiter
from .service import ApiService
from .webhooks import Pass, WebhookDispatcher, WebhookSender

log = get_logger(__name__)


class ApiStartError(OSError):
    """The API could not start listening (one line for the user)."""


def build(
    settings: Settings,
    sessions: SessionMaker,
    storage: Storage,
    launcher: GenerationLauncher,
    canceller: GenerationCanceller,
    *,
    allow_loopback: bool = False,
) -> tuple[Any, ApiContext, ApiMetrics]:
    """The ASGI app and what it runs on."""
    policy = UrlPolicy(allow_loopback=allow_loopback, allow_private=settings.api_allow_private_webhooks)
    link_secret = settings.secret("api_link_secret")
    if not link_secret:
        log.warning("no VIDGEN_API_LINK_SECRET: video links are signed with a key made at start-up")
        link_secret = secrets.token_hex(32)
    links = LinkSigner(link_secret.encode(), settings.api_link_ttl_seconds)
    service = ApiService(settings, sessions, storage, launcher, canceller, links, policy)
    sender = WebhookSender(settings.webhook_timeout_seconds, policy)
    base = settings.api_public_url or f"http://127.0.0.1:{settings.api_port or 8000}"

    def video_link(name: str, key: str) -> str:
        return str(service.video_link(name, key, base)["url"])

    dispatcher = WebhookDispatcher(settings, sessions, sender, video_link=video_link)
    ctx = ApiContext(
        service=service,
        sessions=sessions,
        storage=storage,
        limiter=RateLimiter(settings.api_rate_limit, settings.api_rate_window_seconds),
        dispatcher=dispatcher,
        sender=sender,
    )
    metrics = ApiMetrics()
    app = create_app(ctx, metrics=metrics.render)

    @app.middleware("http")
    async def count(request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.requests.labels(request.method, path, str(response.status_code)).inc()
        return response

    return app, ctx, metrics


async def serve_api(
    settings: Settings,
    sessions: SessionMaker,
    storage: Storage,
    launcher: GenerationLauncher,
    canceller: GenerationCanceller,
    stop: asyncio.Event,
    *,
    port: int,
    host: str | None = None,
    allow_loopback: bool = False,
    started: asyncio.Event | None = None,
) -> None:
    """Serve the API on `host` (default `settings.api_host`):`port` and run the webhook
    dispatcher until `stop`."""
    host = host or settings.api_host
    import uvicorn

    app, ctx, metrics = build(settings, sessions, storage, launcher, canceller, allow_loopback=allow_loopback)
    listening = asyncio.Event()

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # the caller's `stop` owns the signals
            yield

        async def startup(self, sockets: Any = None) -> None:
            try:
                await super().startup(sockets)
            except SystemExit:  # uvicorn exits when it cannot bind; the caller gets ApiStartError
                self.should_exit = True
                return
            if self.started:
                listening.set()

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
        proxy_headers=True,
    )
    server = Server(config)

    async def after_pass(report: Pass) -> None:
        for result in ("delivered", "retried", "given_up"):
            if getattr(report, result):
                metrics.webhooks.labels(result).inc(getattr(report, result))
        grace = timedelta(seconds=settings.outbox_grace_seconds)
        await ctx.service.sweep_launches(datetime.now(UTC) - grace)

    dispatcher = asyncio.create_task(ctx.dispatcher.run(stop, after_pass), name="webhook-dispatcher")
    serving = asyncio.create_task(server.serve(), name="api-server")
    watcher = asyncio.create_task(stop.wait())
    try:
        waiting = asyncio.create_task(listening.wait())
        await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if server.started:
            log.info("HTTP API listening", host=host, port=port)
            if started is not None:
                started.set()
        await asyncio.wait({serving, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serving
        stop.set()
        await dispatcher
        watcher.cancel()
    if serving.done() and serving.exception() is None and not server.started:
        raise ApiStartError(f"the HTTP API cannot listen on {host}:{port} (is the port taken?)")

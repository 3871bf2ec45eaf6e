"""The common part of our fake HTTP peers: an aiohttp app on 127.0.0.1, an ephemeral port, and an
async context manager. A fake subclasses it and adds its routes in `routes(app)`."""

from __future__ import annotations

from typing import Self

from aiohttp import web


class LoopbackServer:
    client_max_size = 20 * 1024 * 1024
    _runner: web.AppRunner | None = None
    port = 0

    def routes(self, app: web.Application) -> None:
        """Add the fake's routes to `app` (every fake overrides this)."""

    async def start(self) -> Self:
        app = web.Application(client_max_size=self.client_max_size)
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

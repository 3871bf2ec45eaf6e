"""The fake Telegram Bot API (tests/fakes/telegram.py) as a standalone server, for the kind e2e:

    python -m tests.fakes.telegram_server --host 0.0.0.0 --port 8081

Besides the Bot API it serves a small control surface:
- GET /_control/calls: every recorded call, as JSON [{"method", "params", "files": {name: size}}];
- POST /_control/updates: queue an update (JSON body) for getUpdates;
- GET /_control/health: "ok".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

from aiohttp import web

from tests.fakes.telegram import TOKEN, FakeTelegram


class TelegramServer(FakeTelegram):
    """FakeTelegram on any address, with the control endpoints."""

    def __init__(self, token: str = TOKEN, host: str = "0.0.0.0", port: int = 8081) -> None:
        super().__init__(token)
        self.host = host
        self.port = port

    def calls_json(self) -> list[dict[str, Any]]:
        return [
            {
                "method": c.method,
                "params": {k: v for k, v in c.params.items() if isinstance(v, str | int | float | bool)},
                "files": {name: len(data) for name, data in c.files.items()},
            }
            for c in self.calls
        ]

    async def start(self) -> TelegramServer:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        app.router.add_get("/_control/calls", self._control_calls)
        app.router.add_post("/_control/updates", self._control_update)
        app.router.add_get("/_control/health", self._control_health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def _control_calls(self, request: web.Request) -> web.Response:
        return web.json_response(self.calls_json())

    async def _control_update(self, request: web.Request) -> web.Response:
        update = await request.json()
        if not isinstance(update, dict):
            return web.json_response({"error": "an update is a JSON object"}, status=400)
        return web.json_response(self.push_update(update))

    async def _control_health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")


async def serve(host: str, port: int, token: str, stop: asyncio.Event) -> None:
    server = await TelegramServer(token, host, port).start()
    print(f"fake Telegram Bot API on http://{host}:{server.port} (token {token})", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="fake Telegram Bot API server (tests)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=TOKEN)
    args = parser.parse_args(argv)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await serve(args.host, args.port, args.token, stop)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

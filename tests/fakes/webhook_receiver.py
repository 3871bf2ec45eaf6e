"""A webhook endpoint on 127.0.0.1 that records every POST (headers and raw body) and answers
from a script: the first len(`statuses`) requests get those codes, the rest 200."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from .loopback import LoopbackServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class WebhookReceiver(LoopbackServer):
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/hooks", self._hook)

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        index = len(self.received)
        status = self.statuses[index] if index < len(self.statuses) else 200
        item = Received(dict(request.headers), body, status)
        self.received.append(item)
        self.arrived.put_nowait(item)
        return web.Response(status=status, text="ok" if status < 300 else "no")

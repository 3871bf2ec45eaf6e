"""A fake OpenAI chat-completions server: real HTTP on 127.0.0.1, an ephemeral port.

- `POST /v1/chat/completions` answers like OpenAI (`choices[0].message.content`), with the
  text from `reply` (a string, or a function of the request body); by default a cinematic
  prompt that quotes the user's wish;
- `Authorization: Bearer <api_key>` is checked (401 with OpenAI's error body otherwise);
- `fail(times, status, message)`: the next calls answer with that HTTP error;
  `latency`: seconds before every answer (longer than the client's timeout = a timeout);
- every request body is recorded in `requests`.

`.url` is the base URL to give the openai SDK ("http://127.0.0.1:PORT/v1").
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

API_KEY = "sk-test-key"


def user_text(body: dict[str, Any]) -> str:
    """The text parts of the user messages of a chat request."""
    parts: list[str] = []
    for message in body.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
    return "\n".join(parts)


def wish(body: dict[str, Any]) -> str:
    """The user's wish that vidgen sends as a JSON string between <wish> tags."""
    match = re.search(r"<wish>(.*?)</wish>", user_text(body), re.DOTALL)
    if not match:
        return ""
    try:
        return str(json.loads(match.group(1)))
    except ValueError:
        return match.group(1)


def default_reply(body: dict[str, Any]) -> str:
    w = wish(body) or "gentle natural motion"
    return (
        f"Cinematic shot of the subject in the photo, {w}; a slow dolly-in with soft golden-hour "
        "light, shallow depth of field and subtle film grain, smooth and stable motion."
    )


@dataclass
class Fault:
    remaining: int
    status: int
    message: str


class FakeOpenAI(LoopbackServer):
    client_max_size = 20 * 1024 * 1024

    def __init__(
        self,
        api_key: str = API_KEY,
        reply: str | Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        self.api_key = api_key
        self.reply: str | Callable[[dict[str, Any]], str] = reply or default_reply
        self.latency = 0.0
        self.requests: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self._ids = itertools.count(1)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail(self, times: int = 1, status: int = 500, message: str = "The server had an error") -> None:
        self.faults.append(Fault(times, status, message))

    @staticmethod
    def error(status: int, message: str, kind: str = "server_error") -> web.Response:
        return web.json_response(
            {"error": {"message": message, "type": kind, "param": None, "code": None}}, status=status
        )

    async def _chat(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return self.error(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        self.requests.append(body)
        if self.latency:
            await asyncio.sleep(self.latency)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self.error(401, "Incorrect API key provided.", "invalid_request_error")
        while self.faults and self.faults[0].remaining <= 0:
            self.faults.pop(0)
        if self.faults:
            self.faults[0].remaining -= 1
            return self.error(self.faults[0].status, self.faults[0].message)
        if not isinstance(body.get("messages"), list) or not body.get("model"):
            return self.error(400, "messages and model are required", "invalid_request_error")
        text = self.reply(body) if callable(self.reply) else self.reply
        return web.json_response(
            {
                "id": f"chatcmpl-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": {
                    "prompt_tokens": 100,
                    "completion_tokens": len(text) // 4,
                    "total_tokens": 100 + len(text) // 4,
                },
            }
        )

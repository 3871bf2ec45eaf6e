"""A fake Telegram Bot API server: real HTTP on 127.0.0.1, an ephemeral port.

- `POST /bot{token}/{method}` answers like the Bot API (`{"ok": true, "result": …}`) for the
  methods vidgen uses, and records every call (`calls`, `calls_to(method)`), uploaded files
  included (as bytes).
- `GET /file/bot{token}/{path}` serves files registered with `add_file` (for `getFile`).
- `getUpdates` serves updates queued with `push_update` (long polling honours `timeout` and
  `offset`), so aiogram's polling really runs against it.
- Fault injection: `fail(method, times, code=429, retry_after=…)` answers with an error
  `times` times; `latency[method] = seconds` delays answers.

Use from a test:
    async with FakeTelegram() as tg:
        bot = tg.bot()              # an aiogram Bot that talks to the fake
        tg.push_update(tg.text_update(user_id=1, text="/start"))
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

TOKEN = "123456:TEST-token"
BOT_ID = 123456


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    def json(self, key: str) -> Any:
        """A parameter that aiogram sent JSON-encoded (reply_markup, prices, …)."""
        value = self.params.get(key)
        return json.loads(value) if isinstance(value, str) else value


@dataclass
class Fault:
    remaining: int
    code: int = 429
    description: str = "Too Many Requests: retry after 1"
    retry_after: int | None = 1


class FakeTelegram(LoopbackServer):
    client_max_size = 200 * 1024 * 1024

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.faults: dict[str, list[Fault]] = {}
        self.latency: dict[str, float] = {}
        self.files: dict[str, bytes] = {}
        self.file_paths: dict[str, str] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._file_ids = itertools.count(1)
        self._new_update = asyncio.Event()

    # --- lifecycle ------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def bot(self, **kwargs: Any) -> Any:
        from aiogram import Bot
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        session = AiohttpSession(api=TelegramAPIServer.from_base(self.url, is_local=False))
        return Bot(self.token, session=session, **kwargs)

    # --- control --------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        times: int = 1,
        code: int = 429,
        retry_after: int | None = 1,
        description: str | None = None,
    ) -> None:
        desc = description or (
            f"Too Many Requests: retry after {retry_after}" if code == 429 else f"Error {code}"
        )
        self.faults.setdefault(method, []).append(
            Fault(times, code, desc, retry_after if code == 429 else None)
        )

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def sent_texts(self, chat_id: int | None = None) -> list[str]:
        out = []
        for c in self.calls:
            if c.method in ("sendMessage", "editMessageText") and "text" in c.params:
                if chat_id is None or str(c.params.get("chat_id")) == str(chat_id):
                    out.append(c.params["text"])
        return out

    def add_file(self, data: bytes, file_id: str | None = None) -> str:
        file_id = file_id or f"file-{next(self._file_ids)}"
        self.files[file_id] = data
        self.file_paths[file_id] = f"photos/{file_id}.jpg"
        return file_id

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        update = dict(update)
        update.setdefault("update_id", next(self._update_ids))
        self._updates.append(update)
        self._new_update.set()
        return update

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls_to(method)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.02)
        raise AssertionError(
            f"{method} called {len(self.calls_to(method))} times, wanted {count}: {[c.method for c in self.calls]}"
        )

    # --- update builders ----------------------------------------------------------------------

    @staticmethod
    def user(user_id: int, language: str = "en", username: str | None = None) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User{user_id}",
            "language_code": language,
            **({"username": username} if username else {}),
        }

    def message(self, user_id: int, language: str = "en", **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private"},
            "from": self.user(user_id, language),
            **content,
        }

    def text_update(self, user_id: int, text: str, language: str = "en") -> dict[str, Any]:
        entities = (
            [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
            if text.startswith("/")
            else []
        )
        return {
            "message": self.message(
                user_id, language, text=text, **({"entities": entities} if entities else {})
            )
        }

    def photo_update(
        self, user_id: int, data: bytes, caption: str | None = None, language: str = "en"
    ) -> dict[str, Any]:
        file_id = self.add_file(data)
        photo = [
            {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "width": 512,
                "height": 512,
                "file_size": len(data),
            }
        ]
        extra = {"caption": caption} if caption else {}
        return {"message": self.message(user_id, language, photo=photo, **extra)}

    def document_update(
        self, user_id: int, data: bytes, mime_type: str, file_name: str = "file", language: str = "en"
    ) -> dict[str, Any]:
        file_id = self.add_file(data)
        doc = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        return {"message": self.message(user_id, language, document=doc)}

    def callback_update(
        self, user_id: int, data: str, message_id: int = 1, language: str = "en"
    ) -> dict[str, Any]:
        return {
            "callback_query": {
                "id": f"cb{next(self._message_ids)}",
                "from": self.user(user_id, language),
                "chat_instance": "ci",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": user_id, "type": "private"},
                    "from": {"id": BOT_ID, "is_bot": True, "first_name": "vidgen"},
                    "text": "…",
                },
            }
        }

    def pre_checkout_update(
        self, user_id: int, payload: str, amount: int, currency: str = "XTR"
    ) -> dict[str, Any]:
        return {
            "pre_checkout_query": {
                "id": f"pcq{next(self._message_ids)}",
                "from": self.user(user_id),
                "currency": currency,
                "total_amount": amount,
                "invoice_payload": payload,
            }
        }

    def successful_payment_update(
        self, user_id: int, payload: str, amount: int, charge_id: str, currency: str = "XTR"
    ) -> dict[str, Any]:
        payment = {
            "currency": currency,
            "total_amount": amount,
            "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "",
        }
        return {"message": self.message(user_id, successful_payment=payment)}

    # --- HTTP -------------------------------------------------------------------------------

    async def _file(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        for file_id, p in self.file_paths.items():
            if p == path:
                return web.Response(body=self.files[file_id])
        return web.Response(status=404)

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, bytes] = {}
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = value.file.read()
                        params[key] = f"attach://{key}"
                    else:
                        params[key] = value
        # aiogram sends InputFile parts under a random name referenced as attach://name
        for key, value in list(params.items()):
            if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
                files[key] = files[value[9:]]
        return params, files

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        params, files = await self._params(request)
        if method != "getUpdates":
            self.calls.append(Call(method, params, files))
        if method in self.latency:
            await asyncio.sleep(self.latency[method])
        for fault in self.faults.get(method, []):
            if fault.remaining > 0:
                fault.remaining -= 1
                body: dict[str, Any] = {
                    "ok": False,
                    "error_code": fault.code,
                    "description": fault.description,
                }
                if fault.retry_after is not None:
                    body["parameters"] = {"retry_after": fault.retry_after}
                return web.json_response(body, status=fault.code)
        handler = getattr(self, f"_m_{method}", None)
        result = await handler(params, files) if handler else True
        return web.json_response({"ok": True, "result": result})

    def _sent(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = int(params.get("chat_id", 0))
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "vidgen"},
            **content,
        }

    async def _m_getMe(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "vidgen",
            "username": "vidgen_test_bot",
            "can_join_groups": False,
        }

    async def _m_getUpdates(self, params: dict[str, Any], files: dict[str, bytes]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 5.0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), timeout)
            except TimeoutError:
                pass
        limit = int(params.get("limit") or 100)
        return self._updates[:limit]

    async def _m_sendMessage(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        return self._sent(params, text=params.get("text", ""))

    async def _m_editMessageText(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        msg = self._sent(params, text=params.get("text", ""))
        msg["message_id"] = int(params.get("message_id") or msg["message_id"])
        return msg

    async def _m_editMessageReplyMarkup(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> dict[str, Any]:
        msg = self._sent(params, text="…")
        msg["message_id"] = int(params.get("message_id") or msg["message_id"])
        return msg

    async def _m_sendVideo(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        file_id = params["video"] if not files.get("video") else f"video-{next(self._file_ids)}"
        if files.get("video"):
            self.files[file_id] = files["video"]
        video = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "width": 720,
            "height": 1280,
            "duration": 10,
        }
        extra = {"caption": params["caption"]} if params.get("caption") else {}
        return self._sent(params, video=video, **extra)

    async def _m_sendPhoto(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        return self._sent(params, photo=[{"file_id": "p1", "file_unique_id": "up1", "width": 1, "height": 1}])

    async def _m_sendDocument(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        return self._sent(params, document={"file_id": f"doc-{next(self._file_ids)}", "file_unique_id": "ud"})

    async def _m_sendInvoice(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        prices = json.loads(params.get("prices", "[]"))
        invoice = {
            "title": params.get("title", ""),
            "description": params.get("description", ""),
            "start_parameter": "",
            "currency": params.get("currency", "XTR"),
            "total_amount": sum(int(p["amount"]) for p in prices),
        }
        return self._sent(params, invoice=invoice)

    async def _m_createInvoiceLink(self, params: dict[str, Any], files: dict[str, bytes]) -> str:
        return "https://t.me/$invoice-link"

    async def _m_getFile(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        file_id = params["file_id"]
        if file_id not in self.files:
            return {"file_id": file_id, "file_unique_id": "x"}
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(self.files[file_id]),
            "file_path": self.file_paths[file_id],
        }

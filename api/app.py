"""The HTTP API (FastAPI): `/v1/…`, the OpenAPI document at `/openapi.json`, interactive docs
at `/docs`, `/healthz`, `/readyz` and `/metrics`. Every error is a problem document (RFC 9457).

Authentication is `Authorization: Bearer <key>`; each key is rate-limited (429 with
Retry-After). Bodies are limited to the photo limit plus room for the form's fields (413)."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations (`Auth` is local).

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidgen.core.db.api_keys import authenticate
from vidgen.core.db.engine import SessionMaker
from vidgen.core.logging import get_logger
from vidgen.core.ports import Storage

from . import problems
from .problems import Problem
from .ratelimit import RateLimiter, retry_after_header
from .service import Account, ApiService
from .webhooks import WebhookDispatcher, WebhookSender, send_ping

log = get_logger(__name__)

FORM_ROOM = 64 * 1024  # the form's text fields, beside the photo
GENERATION_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "photo": {"type": "string", "format": "binary", "description": "JPEG, PNG or WebP"},
                    "photo_url": {"type": "string", "format": "uri", "description": "instead of photo"},
                    "prompt": {"type": "string", "description": "what should happen in the video"},
                    "model": {"type": "string", "default": "sora-2-image-to-video"},
                    "aspect_ratio": {"type": "string", "enum": ["portrait", "landscape"]},
                    "duration_seconds": {"type": "integer"},
                    "resolution": {"type": "string"},
                    "webhook_url": {"type": "string", "format": "uri"},
                },
            }
        },
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["photo_url"],
                "properties": {
                    "photo_url": {"type": "string", "format": "uri"},
                    "prompt": {"type": "string"},
                    "model": {"type": "string"},
                    "aspect_ratio": {"type": "string"},
                    "duration_seconds": {"type": "integer"},
                    "resolution": {"type": "string"},
                    "webhook_url": {"type": "string", "format": "uri"},
                },
            }
        },
    },
}
PROBLEM = {"content": {problems.MEDIA_TYPE: {"schema": {"type": "object"}}}}


class BodyLimit:
    """413 for a body over `limit` bytes: at once from Content-Length, else while it streams."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await Problem(413, "body-too-large", f"the request body is over {self.limit} bytes").response(
                scope.get("path")
            )(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise Problem(413, "body-too-large", f"the request body is over {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


@dataclass
class ApiContext:
    service: ApiService
    sessions: SessionMaker
    storage: Storage
    limiter: RateLimiter
    dispatcher: WebhookDispatcher
    sender: WebhookSender


def create_app(ctx: ApiContext, *, metrics: Callable[[], Awaitable[bytes]] | None = None) -> FastAPI:
    settings = ctx.service.settings
    app = FastAPI(
        title="vidgen API",
        version="1",
        summary="Photo → AI video, with signed webhooks",
        description=(
            "Authenticate with `Authorization: Bearer <key>` (`vidgen api-keys create`). "
            "Errors are RFC 9457 problem documents. Webhooks follow the Standard Webhooks "
            "specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`)."
        ),
    )
    problems.install(app)
    app.add_middleware(BodyLimit, limit=settings.max_photo_bytes + FORM_ROOM)

    async def account(request: Request, authorization: Annotated[str | None, Header()] = None) -> Account:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Problem(
                401,
                "unauthorized",
                "send an API key: Authorization: Bearer <key>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        async with ctx.sessions() as session:
            row = await authenticate(session, key.strip())
        if row is None:
            raise Problem(
                401,
                "unauthorized",
                "the API key is unknown or revoked",
                headers={"WWW-Authenticate": "Bearer"},
            )
        wait = ctx.limiter.hit(row.id)
        if wait is not None:
            raise Problem(
                429,
                "rate-limited",
                f"at most {settings.api_rate_limit} requests per {settings.api_rate_window_seconds:g} s per key",
                headers={"Retry-After": retry_after_header(wait)},
            )
        return Account(row.id, row.user_id, row.webhook_secret)

    Auth = Annotated[Account, Depends(account)]

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        try:
            async with ctx.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:
            return Problem(503, "not-ready", f"database: {type(exc).__name__}").response()
        return JSONResponse({"status": "ready"})

    if metrics is not None:

        @app.get("/metrics", include_in_schema=False)
        async def metrics_endpoint() -> Response:
            return PlainTextResponse(await metrics(), media_type="text/plain; version=0.0.4")

    @app.post(
        "/v1/generations",
        status_code=202,
        openapi_extra={"requestBody": GENERATION_BODY},
        responses={
            400: PROBLEM,
            401: PROBLEM,
            402: PROBLEM,
            409: PROBLEM,
            413: PROBLEM,
            422: PROBLEM,
            429: PROBLEM,
        },
        summary="Request a video from a photo",
    )
    async def create_generation(
        request: Request,
        who: Auth,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        photo: bytes | None = None
        fields: dict[str, Any]
        if content_type.startswith("application/json"):
            try:
                parsed = json.loads(await request.body() or b"{}")
            except ValueError:
                raise Problem(400, "bad-json", "the body is not valid JSON") from None
            if not isinstance(parsed, dict):
                raise Problem(400, "bad-json", "the body must be a JSON object")
            fields = parsed
        elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form(
                max_files=1, max_fields=20, max_part_size=settings.max_photo_bytes + FORM_ROOM
            )
            fields = {}
            for key, value in form.multi_items():
                if key == "photo":
                    if isinstance(value, str):
                        raise problems.field_problem("photo", "must be a file upload")
                    photo = await value.read()
                    await value.close()
                elif isinstance(value, str):
                    fields[key] = value
                else:
                    raise problems.field_problem(key, "unexpected file")
        else:
            raise Problem(415, "unsupported-media-type", "send multipart/form-data or application/json")
        view, replayed = await ctx.service.create(who, fields, photo, idempotency_key, base(request))
        headers = {"Location": f"/v1/generations/{view['id']}"}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return JSONResponse(view, 202, headers=headers)

    @app.get("/v1/generations", summary="List this account's generations, newest first")
    async def list_generations(
        request: Request,
        who: Auth,
        limit: Annotated[int, Query(ge=1, le=settings.api_max_page_size)] = 20,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        return await ctx.service.list(who, limit, cursor, base(request))

    @app.get("/v1/generations/{generation_id}", responses={404: PROBLEM}, summary="One generation")
    async def get_generation(request: Request, who: Auth, generation_id: str) -> dict[str, Any]:
        return await ctx.service.get(who, generation_id, base(request))

    @app.delete(
        "/v1/generations/{generation_id}",
        responses={
            202: {"description": "cancelling (in a cluster the operator finishes it)"},
            404: PROBLEM,
            409: PROBLEM,
        },
        summary="Cancel a generation that has not started (its credits are refunded)",
    )
    async def cancel_generation(request: Request, who: Auth, generation_id: str) -> JSONResponse:
        view = await ctx.service.cancel(who, generation_id, base(request))
        return JSONResponse(view, 200 if view["status"] == "cancelled" else 202)

    @app.get(
        "/v1/generations/{generation_id}/video",
        status_code=307,
        responses={404: PROBLEM},
        summary="Redirect to a short-lived signed link to the finished MP4",
    )
    async def generation_video(request: Request, who: Auth, generation_id: str) -> Response:
        view = await ctx.service.get(who, generation_id, base(request))
        if view["video"] is None:
            raise Problem(404, "no-video", f"{generation_id} has no video ({view['status']})")
        return Response(status_code=307, headers={"Location": view["video"]["url"]})

    @app.get("/v1/videos/{generation_id}", summary="The MP4 behind a signed link (no key needed)")
    async def video(generation_id: str, expires: int, signature: str) -> Response:
        if not ctx.service.links.valid(generation_id, expires, signature):
            raise Problem(
                403, "link-expired", "the link is expired or not signed by this API", title="Forbidden"
            )
        key = await ctx.service.video_key(generation_id)
        if key is None:
            raise Problem(404, "not-found", "no such video")
        import asyncio

        data = await asyncio.to_thread(ctx.storage.get, key)
        return Response(
            data,
            media_type="video/mp4",
            headers={"Content-Disposition": f'inline; filename="{generation_id}.mp4"'},
        )

    @app.get("/v1/balance", summary="The account's credits")
    async def balance(who: Auth) -> dict[str, Any]:
        return await ctx.service.balance(who)

    @app.get("/v1/ledger", summary="The account's credit entries, newest first")
    async def ledger(
        who: Auth,
        limit: Annotated[int, Query(ge=1, le=settings.api_max_page_size)] = 20,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        return await ctx.service.ledger(who, limit, cursor)

    @app.get("/v1/webhooks/deliveries", summary="Webhook messages and each attempt")
    async def deliveries(
        who: Auth,
        generation: str | None = None,
        limit: Annotated[int, Query(ge=1, le=settings.api_max_page_size)] = 20,
    ) -> dict[str, Any]:
        return await ctx.service.deliveries(who, generation, limit)

    @app.post(
        "/v1/webhooks/deliveries/{delivery_id}/redeliver",
        status_code=202,
        responses={404: PROBLEM},
        summary="Send a webhook message again (same webhook-id, fresh retries)",
    )
    async def redeliver(who: Auth, delivery_id: int) -> dict[str, Any]:
        await ctx.service.own_delivery(who, delivery_id)
        await ctx.dispatcher.redeliver(delivery_id)
        return {"id": delivery_id, "state": "pending"}

    @app.post("/v1/webhooks/test", summary="Send a signed webhook.test message to a URL now")
    async def webhook_test(who: Auth, request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise Problem(400, "bad-json", "the body is not valid JSON") from None
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url:
            raise problems.field_problem("url", "required")
        await ctx.service.check_outgoing("url", url)
        result = await send_ping(ctx.sender, url, who.webhook_secret)
        return {"delivered": result.ok, "status": result.status, "error": result.error}

    return app

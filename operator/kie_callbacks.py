"""The operator's endpoint for KIE.AI's task callbacks: `POST /kie/callback/{generation}`.

A callback is only a hint. This endpoint checks it (`core.callbacks_kie.verify_kie_callback`:
signature when a webhook key is configured, freshness, body), checks that the generation
exists and is waiting on that task (an injected `lookup`), and then calls an injected
`hint(generation, task_id)` — it changes nothing itself. The hint's owner (the reconciler)
confirms the task's state with a status request (`runner.kie_status.KieStatusClient.status`)
before it runs collect, so a forged or replayed callback changes nothing.

Answers (KIE.AI retries a callback that is not answered 2xx, up to 3 times):
- 200 `{"status": "accepted"}`: hinted; 200 `{"status": "duplicate"}`: this task was already
  hinted for this generation (KIE.AI's retries, replays): not hinted again;
- 400 malformed body; 401 missing or bad signature, or a stale timestamp;
- 404 unknown generation, or a task the generation is not waiting on;
- 503 the hint failed (KIE.AI will try again; the poller covers a lost callback anyway).

Wiring (the lead's), e.g. in the operator's start-up:

    app = make_callback_app(
        key=settings.secret("kie_webhook_key"),
        lookup=tasks_in_flight_of,            # async (generation) -> set of task ids, None = unknown
        hint=reconciler.kie_hint,             # async (generation, task_id) -> None
        max_age=settings.kie_callback_max_age_seconds,
    )
    runner = await start_callback_server(app, "0.0.0.0", settings.kie_callback_port)
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection

from aiohttp import web

from vidgen.core.callbacks_kie import MAX_BODY_BYTES, CallbackRefused, verify_kie_callback
from vidgen.core.logging import get_logger
from vidgen.core.models import NAME_RE

#: generation → the task ids it is waiting on (None: no such generation)
Lookup = Callable[[str], Awaitable[Collection[str] | None]]
Hint = Callable[[str, str], Awaitable[None]]
PATH = "/kie/callback/{generation}"
SEEN_LIMIT = 10_000


def make_callback_app(
    *,
    key: str | None,
    lookup: Lookup,
    hint: Hint,
    clock: Callable[[], float] = time.time,
    max_age: float = 300.0,
    seen_limit: int = SEEN_LIMIT,
) -> web.Application:
    log = get_logger("vidgen.operator.kie_callbacks")
    seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def answer(status: int, outcome: str, generation: str, **fields: object) -> web.Response:
        (log.info if status == 200 else log.warning)(
            "kie_callback", outcome=outcome, http_status=status, generation=generation, **fields
        )
        return web.json_response({"status": outcome}, status=status)

    async def callback(request: web.Request) -> web.Response:
        generation = request.match_info["generation"]
        if not NAME_RE.match(generation):
            return answer(404, "unknown_generation", generation[:80])
        body = await request.read()
        verdict = verify_kie_callback(request.headers, body, key, clock(), max_age)
        if isinstance(verdict, CallbackRefused):
            return answer(verdict.http_status, str(verdict.reason), generation, detail=verdict.detail)
        task_id = verdict.task_id
        tasks = await lookup(generation)
        if tasks is None:
            return answer(404, "unknown_generation", generation, task_id=task_id)
        if task_id not in tasks:
            return answer(404, "unknown_task", generation, task_id=task_id)
        if (generation, task_id) in seen:
            seen.move_to_end((generation, task_id))
            return answer(200, "duplicate", generation, task_id=task_id)
        try:
            await hint(generation, task_id)
        except Exception:
            log.exception("kie_callback_hint_failed", generation=generation, task_id=task_id)
            return answer(503, "hint_failed", generation, task_id=task_id)
        seen[(generation, task_id)] = None
        while len(seen) > seen_limit:
            seen.popitem(last=False)
        return answer(200, "accepted", generation, task_id=task_id, code=verdict.code)

    app = web.Application(client_max_size=MAX_BODY_BYTES + 1)
    app.router.add_post(PATH, callback)
    return app


async def start_callback_server(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve `app` on host:port (port 0: any free one); `await runner.cleanup()` stops it."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port a runner started with port 0 listens on."""
    (site,) = runner.sites
    server = site._server  # type: ignore[attr-defined]
    return int(server.sockets[0].getsockname()[1])

"""A fake Metabase REST API: real HTTP on 127.0.0.1 (aiohttp, ephemeral port), in memory.

It answers the endpoints `vidgen analytics provision` uses, shaped like Metabase ≥ 0.47:
- `POST /api/session` {username, password} → {"id": token}; every other call needs the
  `X-Metabase-Session` header (401 otherwise).
- `GET /api/database` → {"data": [...], "total": n}.
- `GET/POST /api/collection`, `PUT /api/collection/:id`, `GET /api/collection/:id/items?models=…`
  (→ {"data": [{id, name, model, …}], "total": n}; archived items left out).
- `GET/POST /api/card`, `GET/PUT /api/card/:id` (POST needs name, dataset_query with a known
  database, display and visualization_settings, like Metabase).
- `GET/POST /api/dashboard`, `GET/PUT /api/dashboard/:id` (PUT's `dashcards` is the whole wanted
  set: negative ids are new cards, known ids are updated, missing ones are deleted).
With `mbql5=True` (the default, like Metabase ≥ 0.57) cards' `dataset_query` is answered in the
MBQL 5 shape ({"lib/type": "mbql/query", "stages": [{"native": sql, …}]}), else as stored.

Every request is recorded (`requests`; `writes()` are the non-GET ones after the login).

Use from a test:
    async with FakeMetabase() as mb:
        mb.add_database("vidgen")
        ... provision against mb.url with mb.username / mb.password ...
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BODY = web.RequestKey("body", object)
DISPLAYS = {"table", "scalar", "line", "bar", "area", "row", "pie", "funnel", "combo", "progress", "gauge"}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any = None


@dataclass
class FakeMetabase:
    username: str = "admin@example.com"
    password: str = "metabase-secret-1"
    mbql5: bool = True
    requests: list[Request] = field(default_factory=list)
    databases: dict[int, dict[str, Any]] = field(default_factory=dict)
    collections: dict[int, dict[str, Any]] = field(default_factory=dict)
    cards: dict[int, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[int, dict[str, Any]] = field(default_factory=dict)
    port: int = 0

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._dashcard_ids = itertools.count(1)
        self._tokens: set[str] = set()
        self._runner: web.AppRunner | None = None

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeMetabase:
        app = web.Application(middlewares=[self._record_and_auth])
        r = app.router
        r.add_post("/api/session", self._login)
        r.add_get("/api/database", self._list_databases)
        r.add_get("/api/collection", self._list_collections)
        r.add_post("/api/collection", self._create_collection)
        r.add_put("/api/collection/{id:\\d+}", self._update_collection)
        r.add_get("/api/collection/{id:\\d+}/items", self._collection_items)
        r.add_get("/api/card", self._list_cards)
        r.add_post("/api/card", self._create_card)
        r.add_get("/api/card/{id:\\d+}", self._get_card)
        r.add_put("/api/card/{id:\\d+}", self._update_card)
        r.add_get("/api/dashboard", self._list_dashboards)
        r.add_post("/api/dashboard", self._create_dashboard)
        r.add_get("/api/dashboard/{id:\\d+}", self._get_dashboard)
        r.add_put("/api/dashboard/{id:\\d+}", self._update_dashboard)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeMetabase:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- control and inspection -----------------------------------------------------------

    def add_database(self, name: str, engine: str = "postgres") -> int:
        db_id = next(self._ids)
        self.databases[db_id] = {"id": db_id, "name": name, "engine": engine, "is_sample": False}
        return db_id

    def writes(self) -> list[Request]:
        """Requests that change something (everything but GET and the login)."""
        return [r for r in self.requests if r.method != "GET" and r.path != "/api/session"]

    def live_cards(self) -> list[dict[str, Any]]:
        return [c for c in self.cards.values() if not c["archived"]]

    def live_dashboards(self) -> list[dict[str, Any]]:
        return [d for d in self.dashboards.values() if not d["archived"]]

    # --- plumbing -------------------------------------------------------------------------

    @web.middleware
    async def _record_and_auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.text()
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            return _error(400, "body is not JSON")
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        self.requests.append(Request(request.method, request.path, query, body))
        request[BODY] = body
        if request.path != "/api/session" and request.headers.get("X-Metabase-Session") not in self._tokens:
            return web.Response(status=401, text="Unauthenticated")
        return await handler(request)

    def _next(self) -> int:
        return next(self._ids)

    # --- handlers -------------------------------------------------------------------------

    async def _login(self, request: web.Request) -> web.Response:
        body = request[BODY] or {}
        if body.get("username") != self.username or body.get("password") != self.password:
            return _error(401, "did not match stored password", field="password")
        token = secrets.token_hex(16)
        self._tokens.add(token)
        return web.json_response({"id": token})

    async def _list_databases(self, request: web.Request) -> web.Response:
        data = list(self.databases.values())
        return web.json_response({"data": data, "total": len(data)})

    async def _list_collections(self, request: web.Request) -> web.Response:
        root = {"id": "root", "name": "Our analytics", "location": None, "personal_owner_id": None}
        return web.json_response([root, *self.collections.values()])

    async def _create_collection(self, request: web.Request) -> web.Response:
        body = request[BODY] or {}
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            return _error(400, "value must be a non-blank string.", field="name")
        parent = body.get("parent_id")
        if parent is not None and parent not in self.collections:
            return _error(404, "Not found.")
        cid = self._next()
        self.collections[cid] = {
            "id": cid,
            "name": body["name"],
            "description": body.get("description"),
            "archived": False,
            "personal_owner_id": None,
            "location": "/" if parent is None else f"{self.collections[parent]['location']}{parent}/",
        }
        return web.json_response(self.collections[cid])

    async def _update_collection(self, request: web.Request) -> web.Response:
        cid = int(request.match_info["id"])
        if cid not in self.collections:
            return _error(404, "Not found.")
        body = request[BODY] or {}
        for key in ("name", "description", "archived"):
            if key in body:
                self.collections[cid][key] = body[key]
        return web.json_response(self.collections[cid])

    async def _collection_items(self, request: web.Request) -> web.Response:
        cid = int(request.match_info["id"])
        if cid not in self.collections:
            return _error(404, "Not found.")
        models = request.query.getall("models", ["card", "dashboard"])
        data: list[dict[str, Any]] = []
        if "card" in models:
            data += [
                {"id": c["id"], "name": c["name"], "model": "card", "description": c["description"]}
                for c in self.live_cards()
                if c["collection_id"] == cid
            ]
        if "dashboard" in models:
            data += [
                {"id": d["id"], "name": d["name"], "model": "dashboard", "description": d["description"]}
                for d in self.live_dashboards()
                if d["collection_id"] == cid
            ]
        return web.json_response({"data": data, "total": len(data), "models": models})

    def _card_problem(self, body: dict[str, Any], partial: bool) -> str | None:
        required = ("name", "dataset_query", "display", "visualization_settings")
        for key in required:
            if key not in body and not partial:
                return f"{key} is required"
        if "name" in body and (not isinstance(body["name"], str) or not body["name"].strip()):
            return "name: value must be a non-blank string."
        if "display" in body and body["display"] not in DISPLAYS:
            return "display: unknown display"
        if "visualization_settings" in body and not isinstance(body["visualization_settings"], dict):
            return "visualization_settings: value must be a map."
        if "dataset_query" in body:
            q = body["dataset_query"]
            if not isinstance(q, dict) or q.get("type") != "native":
                return "dataset_query: only native queries are expected here"
            if q.get("database") not in self.databases:
                return "dataset_query: unknown database"
            native = q.get("native")
            if not isinstance(native, dict) or not isinstance(native.get("query"), str):
                return "dataset_query: native.query must be a string"
        if "collection_id" in body and body["collection_id"] is not None:
            if body["collection_id"] not in self.collections:
                return "collection_id: no such collection"
        return None

    def _card_out(self, card: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(card)
        q = out["dataset_query"]
        if self.mbql5:
            out["dataset_query"] = {
                "lib/type": "mbql/query",
                "database": q["database"],
                "stages": [
                    {
                        "lib/type": "mbql.stage/native",
                        "native": q["native"]["query"],
                        "template-tags": q["native"].get("template-tags", {}),
                    }
                ],
            }
        return out

    async def _list_cards(self, request: web.Request) -> web.Response:
        return web.json_response([self._card_out(c) for c in self.live_cards()])

    async def _create_card(self, request: web.Request) -> web.Response:
        body = request[BODY] or {}
        problem = self._card_problem(body, partial=False)
        if problem:
            return _error(400, problem)
        cid = self._next()
        query = copy.deepcopy(body["dataset_query"])
        query["native"].setdefault("template-tags", {})
        self.cards[cid] = {
            "id": cid,
            "name": body["name"],
            "description": body.get("description") or None,
            "display": body["display"],
            "visualization_settings": body["visualization_settings"],
            "dataset_query": query,
            "collection_id": body.get("collection_id"),
            "database_id": query["database"],
            "query_type": "native",
            "type": "question",
            "archived": False,
        }
        return web.json_response(self._card_out(self.cards[cid]))

    async def _get_card(self, request: web.Request) -> web.Response:
        card = self.cards.get(int(request.match_info["id"]))
        return web.json_response(self._card_out(card)) if card else _error(404, "Not found.")

    async def _update_card(self, request: web.Request) -> web.Response:
        card = self.cards.get(int(request.match_info["id"]))
        if card is None:
            return _error(404, "Not found.")
        body = request[BODY] or {}
        problem = self._card_problem(body, partial=True)
        if problem:
            return _error(400, problem)
        for key in ("name", "display", "visualization_settings", "collection_id", "archived"):
            if key in body:
                card[key] = body[key]
        if "description" in body:
            card["description"] = body["description"] or None
        if "dataset_query" in body:
            card["dataset_query"] = copy.deepcopy(body["dataset_query"])
            card["dataset_query"]["native"].setdefault("template-tags", {})
            card["database_id"] = body["dataset_query"]["database"]
        return web.json_response(self._card_out(card))

    def _dashboard_out(self, dashboard: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(dashboard)
        for dc in out["dashcards"]:
            dc["card"] = self._card_out(self.cards[dc["card_id"]])
        return out

    async def _list_dashboards(self, request: web.Request) -> web.Response:
        return web.json_response(
            [{k: v for k, v in d.items() if k != "dashcards"} for d in self.live_dashboards()]
        )

    async def _create_dashboard(self, request: web.Request) -> web.Response:
        body = request[BODY] or {}
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            return _error(400, "value must be a non-blank string.", field="name")
        if body.get("collection_id") is not None and body["collection_id"] not in self.collections:
            return _error(400, "collection_id: no such collection")
        did = self._next()
        self.dashboards[did] = {
            "id": did,
            "name": body["name"],
            "description": body.get("description") or None,
            "collection_id": body.get("collection_id"),
            "parameters": body.get("parameters", []),
            "archived": False,
            "dashcards": [],
            "tabs": [],
        }
        return web.json_response(self._dashboard_out(self.dashboards[did]))

    async def _get_dashboard(self, request: web.Request) -> web.Response:
        dashboard = self.dashboards.get(int(request.match_info["id"]))
        return web.json_response(self._dashboard_out(dashboard)) if dashboard else _error(404, "Not found.")

    async def _update_dashboard(self, request: web.Request) -> web.Response:
        dashboard = self.dashboards.get(int(request.match_info["id"]))
        if dashboard is None:
            return _error(404, "Not found.")
        body = request[BODY] or {}
        if "dashcards" in body:
            cards = body["dashcards"]
            if not isinstance(cards, list):
                return _error(400, "dashcards: value must be a sequence")
            known = {dc["id"]: dc for dc in dashboard["dashcards"]}
            result: list[dict[str, Any]] = []
            for dc in cards:
                if not isinstance(dc, dict) or not isinstance(dc.get("id"), int):
                    return _error(400, "dashcards: every dashcard needs an integer id")
                if not all(isinstance(dc.get(k), int) for k in ("row", "col", "size_x", "size_y")):
                    return _error(400, "dashcards: row, col, size_x and size_y must be integers")
                if dc.get("card_id") not in self.cards:
                    return _error(400, f"dashcards: no card {dc.get('card_id')}")
                if dc["id"] >= 0 and dc["id"] not in known:
                    return _error(404, f"dashcards: dashcard {dc['id']} is not on this dashboard")
                result.append(
                    {
                        "id": dc["id"] if dc["id"] >= 0 else next(self._dashcard_ids),
                        "dashboard_id": dashboard["id"],
                        "card_id": dc["card_id"],
                        "row": dc["row"],
                        "col": dc["col"],
                        "size_x": dc["size_x"],
                        "size_y": dc["size_y"],
                        "parameter_mappings": dc.get("parameter_mappings", []),
                        "visualization_settings": dc.get("visualization_settings", {}),
                        "series": dc.get("series", []),
                    }
                )
            dashboard["dashcards"] = result
        for key in ("name", "collection_id", "archived", "parameters"):
            if key in body:
                dashboard[key] = body[key]
        if "description" in body:
            dashboard["description"] = body["description"] or None
        return web.json_response(self._dashboard_out(dashboard))


def _error(status: int, message: str, field: str | None = None) -> web.Response:
    body: dict[str, Any] = {"errors": {field: message}} if field else {"message": message}
    return web.json_response(body, status=status)

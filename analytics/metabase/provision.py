"""Create or update the questions and the dashboard in Metabase (≥ 0.47) through its REST API,
idempotently: everything lives in one collection, cards and the dashboard are found there by
name, compared with the spec, and written only when they differ. A second run changes nothing.

Endpoints used: POST /api/session (login), GET /api/database (find the database by name),
GET/POST/PUT /api/collection, GET /api/collection/:id/items, GET/POST/PUT /api/card,
GET/POST/PUT /api/dashboard (the dashboard's cards go in PUT /api/dashboard/:id `dashcards`:
existing ids are kept, new ones are negative, absent ones are removed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from ..errors import MetabaseError
from .spec import Dashboard, Question, Spec

SESSION_HEADER = "X-Metabase-Session"
DEFAULT_COLLECTION = "vidgen analytics"
COLLECTION_DESCRIPTION = "vidgen's questions and dashboard, provisioned from analytics/metabase/"


@dataclass
class Outcome:
    """What a run did, by item name."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    dashboard_id: int | None = None

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def summary(self) -> str:
        return (
            f"created {len(self.created)}, updated {len(self.updated)}, "
            f"unchanged {len(self.unchanged)}"
            + ("".join(f"\n  created: {n}" for n in self.created))
            + ("".join(f"\n  updated: {n}" for n in self.updated))
        )


class MetabaseClient:
    """A thin httpx adapter: JSON in, JSON out, errors as MetabaseError with one line."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.base = url.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.base, timeout=timeout)

    async def __aenter__(self) -> MetabaseClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        try:
            response = await self.http.request(method, path, json=body, params=params or None)
        except httpx.HTTPError as exc:
            raise MetabaseError(f"cannot reach Metabase at {self.base}: {exc}") from None
        if response.status_code >= 400:
            detail = response.text.strip().replace("\n", " ")[:300]
            raise MetabaseError(f"{method} {path} → HTTP {response.status_code}: {detail}")
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise MetabaseError(f"{method} {path}: the answer is not JSON") from None

    async def login(self, username: str, password: str) -> None:
        try:
            answer = await self.call("POST", "/api/session", {"username": username, "password": password})
        except MetabaseError as exc:
            raise MetabaseError(f"Metabase login as {username} failed: {exc}") from None
        token = answer.get("id") if isinstance(answer, dict) else None
        if not token:
            raise MetabaseError("Metabase login answered without a session id")
        self.http.headers[SESSION_HEADER] = str(token)


def _data(answer: Any) -> list[dict[str, Any]]:
    """Lists come bare or as {"data": [...]} depending on the endpoint and version."""
    if isinstance(answer, dict):
        answer = answer.get("data", [])
    if not isinstance(answer, list):
        raise MetabaseError("Metabase answered a list request with something else")
    return [item for item in answer if isinstance(item, dict)]


def native_query(answer: Any) -> tuple[Any, str | None]:
    """(database id, SQL) of a card's dataset_query, legacy MBQL 4 or MBQL 5 (Metabase ≥ 0.57)."""
    if not isinstance(answer, dict):
        return None, None
    stages = answer.get("stages")
    if isinstance(stages, list) and len(stages) == 1 and isinstance(stages[0], dict):
        sql = stages[0].get("native")
    else:
        native = answer.get("native")
        sql = native.get("query") if isinstance(native, dict) else None
    return answer.get("database"), sql.strip() if isinstance(sql, str) else None


def card_body(question: Question, database_id: int, collection_id: int) -> dict[str, Any]:
    return {
        "name": question.name,
        "description": question.description,
        "display": question.display,
        "visualization_settings": question.visualization_settings,
        "collection_id": collection_id,
        "dataset_query": {
            "type": "native",
            "database": database_id,
            "native": {"query": question.sql, "template-tags": {}},
        },
    }


def _field(existing: dict[str, Any], key: str) -> Any:
    value = existing.get(key)
    return (value or "") if key == "description" else value  # Metabase keeps "" as null


def card_changes(existing: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The fields of `wanted` that differ from the card Metabase holds."""
    changes = {
        key: wanted[key]
        for key in ("name", "description", "display", "visualization_settings", "collection_id")
        if _field(existing, key) != wanted[key]
    }
    if native_query(existing.get("dataset_query")) != native_query(wanted["dataset_query"]):
        changes["dataset_query"] = wanted["dataset_query"]
    if existing.get("archived"):
        changes["archived"] = False
    return changes


LAYOUT = ("card_id", "row", "col", "size_x", "size_y")


def _dashcards(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    cards = dashboard.get("dashcards", dashboard.get("ordered_cards", []))
    return [c for c in cards if isinstance(c, dict)]


def dashcards_plan(
    existing: list[dict[str, Any]], wanted: list[dict[str, Any]]
) -> list[dict[str, Any]] | None:
    """The `dashcards` to PUT so the dashboard holds exactly `wanted`, or None when it already does."""
    have = sorted(tuple(c.get(k) for k in LAYOUT) for c in existing)
    if have == sorted(tuple(c[k] for k in LAYOUT) for c in wanted):
        return None
    ids = {c.get("card_id"): c.get("id") for c in existing if isinstance(c.get("id"), int)}
    plan = []
    for n, card in enumerate(wanted, start=1):
        plan.append(
            {
                "id": ids.get(card["card_id"], -n),
                **card,
                "parameter_mappings": [],
                "visualization_settings": {},
                "series": [],
            }
        )
    return plan


class Provisioner:
    def __init__(self, client: MetabaseClient, spec: Spec, database_name: str, collection: str) -> None:
        self.mb = client
        self.spec = spec
        self.database_name = database_name
        self.collection_name = collection
        self.outcome = Outcome()

    async def database_id(self) -> int:
        databases = _data(await self.mb.call("GET", "/api/database"))
        for db in databases:
            if db.get("name") == self.database_name:
                return int(db["id"])
        known = ", ".join(sorted(str(db.get("name")) for db in databases)) or "none"
        raise MetabaseError(f"Metabase has no database named {self.database_name!r} (it has: {known})")

    async def collection_id(self) -> int:
        for c in _data(await self.mb.call("GET", "/api/collection")):
            if (
                c.get("name") == self.collection_name
                and isinstance(c.get("id"), int)
                and not c.get("archived")
                and c.get("personal_owner_id") is None
                and c.get("location", "/") == "/"
            ):
                if c.get("description") != COLLECTION_DESCRIPTION:
                    await self.mb.call(
                        "PUT", f"/api/collection/{c['id']}", {"description": COLLECTION_DESCRIPTION}
                    )
                    self.outcome.updated.append(f"collection {self.collection_name}")
                else:
                    self.outcome.unchanged.append(f"collection {self.collection_name}")
                return int(c["id"])
        created = await self.mb.call(
            "POST",
            "/api/collection",
            {"name": self.collection_name, "description": COLLECTION_DESCRIPTION, "parent_id": None},
        )
        self.outcome.created.append(f"collection {self.collection_name}")
        return int(created["id"])

    async def items(self, collection_id: int) -> dict[tuple[str, str], int]:
        """(model, name) → id of the cards and dashboards in the collection (the oldest wins)."""
        answer = await self.mb.call(
            "GET", f"/api/collection/{collection_id}/items", models=["card", "dashboard"]
        )
        found: dict[tuple[str, str], int] = {}
        for item in sorted(_data(answer), key=lambda i: int(i.get("id") or 0)):
            key = (str(item.get("model")), str(item.get("name")))
            found.setdefault(key, int(item["id"]))
        return found

    async def card(
        self, question: Question, existing_id: int | None, database_id: int, collection_id: int
    ) -> int:
        wanted = card_body(question, database_id, collection_id)
        label = f"card {question.name}"
        if existing_id is None:
            created = await self.mb.call("POST", "/api/card", wanted)
            self.outcome.created.append(label)
            return int(created["id"])
        changes = card_changes(await self.mb.call("GET", f"/api/card/{existing_id}"), wanted)
        if changes:
            await self.mb.call("PUT", f"/api/card/{existing_id}", changes)
            self.outcome.updated.append(label)
        else:
            self.outcome.unchanged.append(label)
        return existing_id

    async def dashboard(
        self, spec: Dashboard, existing_id: int | None, card_ids: dict[str, int], collection_id: int
    ) -> int:
        label = f"dashboard {spec.name}"
        wanted_meta = {"name": spec.name, "description": spec.description, "collection_id": collection_id}
        if existing_id is None:
            created = await self.mb.call("POST", "/api/dashboard", {**wanted_meta, "parameters": []})
            existing_id = int(created["id"])
            self.outcome.created.append(label)
            fresh = True
        else:
            fresh = False
        current = await self.mb.call("GET", f"/api/dashboard/{existing_id}")
        changes = {k: v for k, v in wanted_meta.items() if _field(current, k) != v}
        if current.get("archived"):
            changes["archived"] = False
        wanted_cards = [
            {
                "card_id": card_ids[p.question],
                "row": p.row,
                "col": p.col,
                "size_x": p.size_x,
                "size_y": p.size_y,
            }
            for p in spec.cards
        ]
        plan = dashcards_plan(_dashcards(current), wanted_cards)
        if plan is not None:
            changes["dashcards"] = plan
        if changes:
            await self.mb.call("PUT", f"/api/dashboard/{existing_id}", changes)
            if not fresh:
                self.outcome.updated.append(label)
        elif not fresh:
            self.outcome.unchanged.append(label)
        return existing_id

    async def run(self) -> Outcome:
        database_id = await self.database_id()
        collection_id = await self.collection_id()
        items = await self.items(collection_id)
        card_ids = {
            q.key: await self.card(q, items.get(("card", q.name)), database_id, collection_id)
            for q in self.spec.questions
        }
        self.outcome.dashboard_id = await self.dashboard(
            self.spec.dashboard, items.get(("dashboard", self.spec.dashboard.name)), card_ids, collection_id
        )
        return self.outcome


async def provision(
    url: str,
    username: str,
    password: str,
    database_name: str,
    *,
    spec: Spec,
    collection: str = DEFAULT_COLLECTION,
) -> Outcome:
    async with MetabaseClient(url) as client:
        await client.login(username, password)
        return await Provisioner(client, spec, database_name, collection).run()

"""Metabase as code: provisioning against a fake Metabase API (real HTTP on 127.0.0.1) creates
the collection, the cards and the dashboard once; a second run changes nothing; drift is put
back with the fewest writes; bad credentials or an unknown database fail cleanly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.fakes.metabase import FakeMetabase
from tests.integration.analytics.seed import seed
from vidgen.analytics.errors import MetabaseError, SpecError
from vidgen.analytics.metabase.provision import DEFAULT_COLLECTION, Outcome, native_query, provision
from vidgen.analytics.metabase.spec import Spec, load
from vidgen.cli import main
from vidgen.core.db.engine import SessionMaker

SPEC = load()


@pytest.fixture(params=["mbql5", "legacy"])
async def metabase(request: pytest.FixtureRequest) -> AsyncIterator[FakeMetabase]:
    async with FakeMetabase(mbql5=request.param == "mbql5") as mb:
        mb.add_database("Sample Database", engine="h2")
        mb.add_database("vidgen")
        yield mb


async def run(mb: FakeMetabase, spec: Spec = SPEC, **kwargs: str) -> Outcome:
    return await provision(
        mb.url, mb.username, mb.password, kwargs.pop("database", "vidgen"), spec=spec, **kwargs
    )


def test_the_spec_is_complete() -> None:
    keys = {q.key for q in SPEC.questions}
    assert keys == {
        "videos_per_day",
        "success_rate_per_day",
        "generation_time_per_day",
        "credit_usage_per_day",
        "errors_by_class_and_code",
        "funnel",
        "stars_revenue_per_day",
        "active_users_per_day",
        "active_users_per_week",
    }
    assert {p.question for p in SPEC.dashboard.cards} == keys  # every question is on the dashboard
    for q in SPEC.questions:
        assert "analytics_" in q.sql, q.key  # questions read the views, not the tables


async def test_first_run_creates_everything_once(metabase: FakeMetabase) -> None:
    outcome = await run(metabase)
    assert outcome.changed
    assert len(outcome.created) == len(SPEC.questions) + 2  # + collection + dashboard
    [collection] = metabase.collections.values()
    assert collection["name"] == DEFAULT_COLLECTION and collection["location"] == "/"
    vidgen_db = next(i for i, d in metabase.databases.items() if d["name"] == "vidgen")

    cards = metabase.live_cards()
    assert sorted(c["name"] for c in cards) == sorted(q.name for q in SPEC.questions)
    by_name = {c["name"]: c for c in cards}
    for q in SPEC.questions:
        card = by_name[q.name]
        assert card["collection_id"] == collection["id"]
        assert card["display"] == q.display
        assert card["visualization_settings"] == q.visualization_settings
        assert card["dataset_query"]["type"] == "native"
        assert native_query(card["dataset_query"]) == (vidgen_db, q.sql)

    [dashboard] = metabase.live_dashboards()
    assert dashboard["id"] == outcome.dashboard_id
    assert dashboard["name"] == SPEC.dashboard.name and dashboard["collection_id"] == collection["id"]
    layout = {
        (dc["card_id"], dc["row"], dc["col"], dc["size_x"], dc["size_y"]) for dc in dashboard["dashcards"]
    }
    want = {
        (by_name[SPEC.question(p.question).name]["id"], p.row, p.col, p.size_x, p.size_y)
        for p in SPEC.dashboard.cards
    }
    assert layout == want
    # the API calls a fresh install needs: session, database, collection, cards, dashboard
    writes = [(r.method, r.path) for r in metabase.writes()]
    assert writes.count(("POST", "/api/card")) == len(SPEC.questions)
    assert writes.count(("POST", "/api/dashboard")) == 1
    assert writes.count(("POST", "/api/collection")) == 1
    assert ("PUT", f"/api/dashboard/{dashboard['id']}") in writes


async def test_second_run_changes_nothing(metabase: FakeMetabase) -> None:
    await run(metabase)
    before = json.dumps([metabase.collections, metabase.cards, metabase.dashboards], sort_keys=True)
    seen = len(metabase.requests)

    outcome = await run(metabase)

    assert not outcome.changed
    assert len(outcome.unchanged) == len(SPEC.questions) + 2
    second = metabase.requests[seen:]
    assert [r for r in second if r.method != "GET" and r.path != "/api/session"] == []
    assert json.dumps([metabase.collections, metabase.cards, metabase.dashboards], sort_keys=True) == before
    assert len(metabase.live_cards()) == len(SPEC.questions) and len(metabase.live_dashboards()) == 1


async def test_drift_is_put_back_with_only_the_needed_writes(metabase: FakeMetabase) -> None:
    first = await run(metabase)
    card = next(c for c in metabase.live_cards() if c["name"] == SPEC.question("funnel").name)
    card["dataset_query"]["native"]["query"] = "SELECT 1"  # someone edited the SQL in the UI
    card["display"] = "table"
    dashboard = metabase.dashboards[first.dashboard_id]  # type: ignore[index]
    dashboard["dashcards"][0]["size_x"] = 3  # and resized a card
    dashboard["dashcards"].pop()  # and removed another
    seen = len(metabase.requests)

    outcome = await run(metabase)

    assert sorted(outcome.updated) == sorted([f"card {card['name']}", f"dashboard {SPEC.dashboard.name}"])
    writes = [(r.method, r.path) for r in metabase.requests[seen:] if r.method != "GET"][1:]  # after login
    assert writes == [("PUT", f"/api/card/{card['id']}"), ("PUT", f"/api/dashboard/{first.dashboard_id}")]
    put_card = next(r for r in metabase.requests[seen:] if r.method == "PUT").body
    assert set(put_card) == {"display", "dataset_query"}  # only what differs
    assert native_query(metabase.cards[card["id"]]["dataset_query"])[1] == SPEC.question("funnel").sql
    assert len(metabase.dashboards[first.dashboard_id]["dashcards"]) == len(SPEC.dashboard.cards)  # type: ignore[index]
    assert not (await run(metabase)).changed


async def test_archived_or_duplicate_cards_do_not_make_copies(metabase: FakeMetabase) -> None:
    await run(metabase)
    for card in metabase.live_cards():
        if card["name"] == SPEC.question("videos_per_day").name:
            card["archived"] = True  # archived in the UI: provisioning makes a new live one
    outcome = await run(metabase)
    assert outcome.created == [f"card {SPEC.question('videos_per_day').name}"]
    assert len(metabase.live_cards()) == len(SPEC.questions)
    assert not (await run(metabase)).changed


async def test_wrong_password_fails_cleanly(metabase: FakeMetabase) -> None:
    with pytest.raises(MetabaseError, match=r"login as admin@example\.com failed.*HTTP 401"):
        await provision(metabase.url, metabase.username, "wrong", "vidgen", spec=SPEC)
    assert metabase.writes() == []


async def test_unknown_database_names_the_known_ones(metabase: FakeMetabase) -> None:
    with pytest.raises(MetabaseError, match=r"no database named 'prod' \(it has: Sample Database, vidgen\)"):
        await run(metabase, database="prod")
    assert metabase.writes() == []


async def test_unreachable_metabase() -> None:
    async with FakeMetabase() as mb:
        url = mb.url
    with pytest.raises(MetabaseError, match="cannot reach Metabase"):
        await provision(url, "a", "b", "vidgen", spec=SPEC)


async def test_cli_provision_twice(metabase: FakeMetabase, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "analytics",
        "provision",
        "--metabase-url",
        metabase.url,
        "--username",
        metabase.username,
        "--password",
        metabase.password,
        "--database-name",
        "vidgen",
    ]
    for expected in (f"created {len(SPEC.questions) + 2}, updated 0, unchanged 0", "created 0, updated 0"):
        with pytest.raises(SystemExit) as exit_:
            await asyncio.to_thread(main, argv)
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert expected in out
        assert f"/dashboard/{metabase.live_dashboards()[0]['id']}" in out
    assert len(metabase.live_cards()) == len(SPEC.questions)


async def test_cli_provision_takes_settings_and_reports_errors(
    metabase: FakeMetabase, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VIDGEN_METABASE_URL", metabase.url)
    monkeypatch.setenv("VIDGEN_METABASE_USER", metabase.username)
    monkeypatch.setenv("VIDGEN_METABASE_PASSWORD", "wrong")
    with pytest.raises(SystemExit) as exit_:
        await asyncio.to_thread(main, ["analytics", "provision"])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("vidgen analytics provision: Metabase login as admin@example.com failed")
    assert "wrong" not in err

    monkeypatch.setenv("VIDGEN_METABASE_PASSWORD", metabase.password)
    monkeypatch.setenv("VIDGEN_METABASE_DATABASE", "vidgen")
    with pytest.raises(SystemExit) as exit_:
        await asyncio.to_thread(main, ["analytics", "provision"])
    assert exit_.value.code == 0
    assert len(metabase.live_dashboards()) == 1

    monkeypatch.delenv("VIDGEN_METABASE_URL")
    with pytest.raises(SystemExit) as exit_:
        await asyncio.to_thread(main, ["analytics", "provision"])
    assert exit_.value.code == 2
    assert "missing setting VIDGEN_METABASE_URL" in capsys.readouterr().err


@pytest.mark.postgres
async def test_every_question_runs_on_the_views(pg_sessions: SessionMaker) -> None:
    await seed(pg_sessions)
    async with pg_sessions() as s:
        for q in SPEC.questions:
            result = await s.execute(text(q.sql))
            assert result.keys(), q.key
            result.all()
        funnel = (await s.execute(text(SPEC.question("funnel").sql))).all()
    # the seeded history is older than 90 days, so the funnel's steps are there with 0 users
    assert [tuple(r) for r in funnel] == [("Signed up", 0), ("First video", 0), ("First purchase", 0)]


def _write_spec(root: Path, question: dict[str, object], dashboard: dict[str, object]) -> None:
    (root / "questions").mkdir()
    (root / "questions" / "q.json").write_text(json.dumps(question))
    (root / "dashboard.json").write_text(json.dumps(dashboard))


GOOD_Q = {"name": "Q", "description": "", "display": "table", "sql": "SELECT 1", "visualization_settings": {}}
GOOD_D = {
    "name": "D",
    "description": "",
    "cards": [{"question": "q", "row": 0, "col": 0, "size_x": 6, "size_y": 4}],
}


@pytest.mark.parametrize(
    ("question", "dashboard", "message"),
    [
        ({**GOOD_Q, "display": "hologram"}, GOOD_D, "`display` must be one of"),
        ({**GOOD_Q, "sql": ""}, GOOD_D, "`sql` must be a non-empty string"),
        ({**GOOD_Q, "colour": "red"}, GOOD_D, "unknown keys"),
        (
            GOOD_Q,
            {**GOOD_D, "cards": [{"question": "nope", "row": 0, "col": 0, "size_x": 1, "size_y": 1}]},
            "no question",
        ),
        (
            GOOD_Q,
            {**GOOD_D, "cards": [{"question": "q", "row": 0, "col": 20, "size_x": 6, "size_y": 1}]},
            "≤ 24",
        ),
        (
            GOOD_Q,
            {**GOOD_D, "cards": [{"question": "q", "row": -1, "col": 0, "size_x": 6, "size_y": 1}]},
            "`row`",
        ),
    ],
)
def test_bad_spec_is_refused_with_a_clear_error(
    tmp_path: Path, question: dict[str, object], dashboard: dict[str, object], message: str
) -> None:
    _write_spec(tmp_path, question, dashboard)
    with pytest.raises(SpecError, match=message):
        load(tmp_path)  # type: ignore[arg-type]


def test_bad_json_is_refused(tmp_path: Path) -> None:
    _write_spec(tmp_path, GOOD_Q, GOOD_D)
    (tmp_path / "questions" / "q.json").write_text("{not json")
    with pytest.raises(SpecError, match=r"questions/q.json: not valid JSON"):
        load(tmp_path)  # type: ignore[arg-type]

"""Load and check the questions and the dashboard kept as JSON in analytics/metabase/.

A question file (questions/<key>.json):
    {"name": str, "description": str, "display": str, "sql": str | [str, …],
     "visualization_settings": {…}}
The dashboard (dashboard.json):
    {"name": str, "description": str,
     "cards": [{"question": key, "row": int, "col": int, "size_x": int, "size_y": int}, …]}
on Metabase's 24-column grid.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from typing import Any

from ..errors import SpecError

PACKAGE = "vidgen.analytics.metabase"
GRID_COLUMNS = 24
DISPLAYS = frozenset(
    {
        "table",
        "scalar",
        "line",
        "bar",
        "area",
        "row",
        "pie",
        "funnel",
        "combo",
        "progress",
        "gauge",
        "smartscalar",
    }
)


@dataclass(frozen=True)
class Question:
    key: str
    name: str
    description: str
    display: str
    sql: str
    visualization_settings: dict[str, Any]


@dataclass(frozen=True)
class Placement:
    question: str
    row: int
    col: int
    size_x: int
    size_y: int


@dataclass(frozen=True)
class Dashboard:
    name: str
    description: str
    cards: tuple[Placement, ...]


@dataclass(frozen=True)
class Spec:
    questions: tuple[Question, ...]
    dashboard: Dashboard

    def question(self, key: str) -> Question:
        return next(q for q in self.questions if q.key == key)


def _string(where: str, data: dict[str, Any], key: str, *, blank: bool = False) -> str:
    value = data.get(key)
    if not isinstance(value, str) or (not blank and not value.strip()):
        raise SpecError(f"{where}: `{key}` must be a{'' if blank else ' non-empty'} string")
    return value


def _int(where: str, data: dict[str, Any], key: str, low: int) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise SpecError(f"{where}: `{key}` must be a whole number ≥ {low}")
    return value


def _json(where: str, raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise SpecError(f"{where}: must be a JSON object")
    return data


def parse_question(key: str, raw: str) -> Question:
    where = f"questions/{key}.json"
    data = _json(where, raw)
    unknown = set(data) - {"name", "description", "display", "sql", "visualization_settings"}
    if unknown:
        raise SpecError(f"{where}: unknown keys {sorted(unknown)}")
    sql = data.get("sql")
    if isinstance(sql, list) and all(isinstance(line, str) for line in sql):
        sql = "\n".join(sql)
    if not isinstance(sql, str) or not sql.strip():
        raise SpecError(f"{where}: `sql` must be a non-empty string or list of lines")
    display = _string(where, data, "display")
    if display not in DISPLAYS:
        raise SpecError(f"{where}: `display` must be one of {sorted(DISPLAYS)}")
    settings = data.get("visualization_settings", {})
    if not isinstance(settings, dict):
        raise SpecError(f"{where}: `visualization_settings` must be an object")
    return Question(
        key=key,
        name=_string(where, data, "name"),
        description=_string(where, data, "description", blank=True),
        display=display,
        sql=sql.strip(),
        visualization_settings=settings,
    )


def parse_dashboard(raw: str, questions: dict[str, Question]) -> Dashboard:
    where = "dashboard.json"
    data = _json(where, raw)
    cards = data.get("cards")
    if not isinstance(cards, list) or not cards:
        raise SpecError(f"{where}: `cards` must be a non-empty list")
    placements: list[Placement] = []
    for n, card in enumerate(cards):
        here = f"{where} card {n + 1}"
        if not isinstance(card, dict):
            raise SpecError(f"{here}: must be an object")
        key = _string(here, card, "question")
        if key not in questions:
            raise SpecError(f"{here}: no question {key!r} in questions/")
        p = Placement(
            question=key,
            row=_int(here, card, "row", 0),
            col=_int(here, card, "col", 0),
            size_x=_int(here, card, "size_x", 1),
            size_y=_int(here, card, "size_y", 1),
        )
        if p.col + p.size_x > GRID_COLUMNS:
            raise SpecError(f"{here}: col + size_x must be ≤ {GRID_COLUMNS}")
        placements.append(p)
    keys = [p.question for p in placements]
    if len(set(keys)) != len(keys):
        raise SpecError(f"{where}: a question is placed twice")
    cells: dict[tuple[int, int], str] = {}
    for p in placements:
        for r in range(p.row, p.row + p.size_y):
            for c in range(p.col, p.col + p.size_x):
                if (r, c) in cells:
                    raise SpecError(f"{where}: {p.question!r} overlaps {cells[(r, c)]!r}")
                cells[(r, c)] = p.question
    return Dashboard(
        name=_string(where, data, "name"),
        description=_string(where, data, "description", blank=True),
        cards=tuple(placements),
    )


def load(root: Traversable | None = None) -> Spec:
    """Read analytics/metabase/ (or `root`, a folder laid out the same way)."""
    root = root or resources.files(PACKAGE)
    questions: dict[str, Question] = {}
    for entry in sorted(root.joinpath("questions").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            key = entry.name.removesuffix(".json")
            questions[key] = parse_question(key, entry.read_text(encoding="utf-8"))
    if not questions:
        raise SpecError("questions/: no question files")
    names = [q.name for q in questions.values()]
    if len(set(names)) != len(names):
        raise SpecError("questions/: two questions have the same name (names identify cards in Metabase)")
    dashboard = parse_dashboard(root.joinpath("dashboard.json").read_text(encoding="utf-8"), questions)
    return Spec(tuple(questions.values()), dashboard)

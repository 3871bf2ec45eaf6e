"""Every text key the bot uses exists in both languages and renders (no missing keys)."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from vidgen.bot.app import COMMANDS
from vidgen.core.catalogue import MODELS
from vidgen.core.db.models import Generation
from vidgen.core.ledger import EntryKind
from vidgen.core.texts import LANGUAGES, TEXTS, t

BOT = Path(__file__).resolve().parents[3] / "bot"
PHASES = ["Pending", "Queued", "Running", "Generated", "Delivering", "Delivered", "Failed"]


def literal_keys() -> set[str]:
    """First string arguments of every t(...) call in the bot's code, and InputError codes."""
    keys: set[str] = set()
    for path in BOT.rglob("*.py"):
        if "texts" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name == "t":
                keys.add(first.value)
            elif name == "InputError":
                keys.add(f"input.{first.value}")
    return keys


def dynamic_keys() -> set[str]:
    keys = {f"phase.{p}" for p in PHASES} | {f"ledger.{k}" for k in EntryKind}
    keys |= {f"aspect.{a}" for info in MODELS.values() for a in info.aspect_ratios}
    keys |= {f"command.{c}" for c in COMMANDS}
    keys |= {
        "admin.blocked",
        "admin.unblocked",
        "yes",
        "no",
        "payment.amount_mismatch",
        "payment.unknown_package",
    }
    keys |= {f"input.{code}" for code in ("unknown_model", "bad_aspect_ratio", "bad_duration", "bad_name")}
    return keys


def test_the_scan_finds_the_keys() -> None:
    assert {"start.welcome", "menu.text", "input.not_a_photo", "input.photo_too_large"} <= literal_keys()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_key_the_bot_uses_exists(lang: str) -> None:
    missing = (literal_keys() | dynamic_keys()) - set(TEXTS[lang])
    assert not missing, f"{lang}: missing {sorted(missing)}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_key_renders(lang: str) -> None:
    for key, template in TEXTS[lang].items():
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        text = t(key, lang, **{name: "7" for name in names})
        assert text.strip(), key
        assert "{" not in text and "}" not in text, key


def test_phase_texts_cover_the_mirror_phases() -> None:
    assert Generation.__table__.c.phase.default.arg == "Pending"
    assert set(PHASES) == {k.split(".", 1)[1] for k in TEXTS["en"] if k.startswith("phase.")}

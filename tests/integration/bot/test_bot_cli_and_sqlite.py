"""`vidgen bot` fails with one clear line without a token; and the bot works on SQLite (local
mode's database) the same way: request, replayed confirm, payment, sweeper."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tests.fakes.telegram import FakeTelegram
from tests.integration.bot.harness import USER, make_harness
from vidgen.bot.sweeper import OutboxSweeper
from vidgen.cli import main
from vidgen.core.db.engine import SessionMaker


@pytest.mark.parametrize(
    ("argv", "env", "line"),
    [
        (["bot"], {}, "vidgen: missing setting VIDGEN_TELEGRAM_TOKEN"),
        (
            ["bot", "--mode", "webhook"],
            {"VIDGEN_TELEGRAM_TOKEN": "1:x"},
            "vidgen: missing setting VIDGEN_WEBHOOK_URL",
        ),
    ],
)
def test_vidgen_bot_needs_its_settings(
    argv: list[str],
    env: dict[str, str],
    line: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in ("VIDGEN_TELEGRAM_TOKEN", "VIDGEN_WEBHOOK_URL", "VIDGEN_WEBHOOK_SECRET", "VIDGEN_BOT_MODE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == line


async def test_the_bot_on_sqlite(tg: FakeTelegram, sqlite_sessions: SessionMaker, tmp_path: Path) -> None:
    h = make_harness(tg, sqlite_sessions, tmp_path)
    try:
        confirm = await h.prepare(USER)
        update = h.stamp(tg.callback_update(USER, confirm, message_id=500))
        await h.feed(copy.deepcopy(update))
        await h.feed(copy.deepcopy(update))
        assert await h.balance(USER) == 1 and len(h.launcher.specs) == 1
        paid = h.stamp(tg.successful_payment_update(USER, "p5", 100, charge_id="c-sqlite"))
        await h.feed(copy.deepcopy(paid))
        await h.feed(copy.deepcopy(paid))
        assert await h.balance(USER) == 6

        h.launcher.fail_next = 10
        await h.tap(USER, await h.prepare(USER), message_id=600)
        sweeper = OutboxSweeper(h.settings, h.sessions, h.launcher, h.bot)
        await sweeper.sweep_once()
        report = await sweeper.sweep_once()
        assert len(report.refunded) == 1 and await h.balance(USER) == 6
    finally:
        await h.bot.session.close()

"""`vidgen api-keys create|list|revoke`: the key and the webhook secret are printed once, only a
hash is stored, the account is created with its signup credits, a revoked key stops working."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from vidgen.cli import main
from vidgen.core.db.api_keys import authenticate
from vidgen.core.db.engine import make_engine, make_sessionmaker
from vidgen.core.db.models import ApiKey, User


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(exit_.value.code or 0), out, err


def lookup(url: str, key: str) -> tuple[ApiKey | None, list[ApiKey], User | None]:
    async def go() -> tuple[ApiKey | None, list[ApiKey], User | None]:
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session:
                found = await authenticate(session, key)
                rows = list((await session.scalars(select(ApiKey))).all())
                user = await session.get(User, 77)
                return found, rows, user
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_create_list_revoke(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'v.db'}"
    monkeypatch.setenv("VIDGEN_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "api-keys", "create", "--user-id", "77", "--name", "ci")
    assert code == 0 and "shown only now" in err
    key = re.search(r"API key:\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    secret = re.search(r"webhook secret:\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    assert secret.startswith("whsec_")
    found, rows, user = lookup(url, key)
    assert found is not None and found.user_id == 77
    assert user is not None and user.balance == 2  # the signup credits
    assert key not in {r.key_hash for r in rows} and all(key not in (r.key_hash, r.prefix) for r in rows)

    code, out, _ = run(capsys, "api-keys", "list")
    assert code == 0 and "account 77" in out and "active" in out and key not in out

    code, out, _ = run(capsys, "api-keys", "revoke", str(found.id))
    assert code == 0
    assert lookup(url, key)[0] is None
    code, out, _ = run(capsys, "api-keys", "list", "--user-id", "77")
    assert "revoked" in out
    code, _, err = run(capsys, "api-keys", "revoke", "999")
    assert code == 1 and "no key 999" in err
    code, _, err = run(capsys, "api-keys", "create", "--user-id", "77", "--name", "ci")
    assert code == 2 and "already has a key named 'ci'" in err
    code, _, err = run(capsys, "api-keys", "create", "--user-id", "0")
    assert code == 2 and "reserved" in err

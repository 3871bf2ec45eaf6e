"""charts/vidgen/files/metabase-setup.py (the provisioning Job's init container) against a small
fake Metabase on 127.0.0.1: a fresh Metabase is set up in one call, an installed one gets the
database only if it lacks it, a second run changes nothing, and failures say what went wrong."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import pytest

from tests.chart.render import CHART

DB_URL = "postgresql+psycopg://vidgen:p%40ss@vidgen-postgresql:5432/vidgen"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("metabase_setup", CHART / "files" / "metabase-setup.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


setup_script = load_script()


class FakeMetabase:
    """Just the endpoints the script uses, with Metabase's answers."""

    def __init__(self) -> None:
        self.healthy_after = 0  # health checks answered "starting" before "ok"
        self.token: str | None = "setup-token-1"
        self.users: dict[str, str] = {}
        self.databases: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                fake.calls.append(("GET", self.path, None))
                if self.path == "/api/health":
                    if fake.healthy_after > 0:
                        fake.healthy_after -= 1
                        return self.reply(503, {"status": "initializing"})
                    return self.reply(200, {"status": "ok"})
                if self.path == "/api/session/properties":
                    return self.reply(200, {"setup-token": fake.token, "has-user-setup": bool(fake.users)})
                if self.path == "/api/database":
                    if self.headers.get("X-Metabase-Session") != "session-1":
                        return self.reply(401, "Unauthenticated")
                    return self.reply(200, {"data": fake.databases, "total": len(fake.databases)})
                self.reply(404, "Not found")

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.calls.append(("POST", self.path, body))
                if self.path == "/api/setup":
                    if body.get("token") != fake.token or fake.users:
                        return self.reply(403, {"message": "Invalid token"})
                    fake.users[body["user"]["email"]] = body["user"]["password"]
                    fake.databases.append({"id": 1, **body["database"]})
                    fake.token = None
                    return self.reply(200, {"id": "session-1"})
                if self.path == "/api/session":
                    if fake.users.get(body["username"]) != body["password"]:
                        return self.reply(401, {"errors": {"password": "did not match stored password"}})
                    return self.reply(200, {"id": "session-1"})
                if self.path == "/api/database":
                    if self.headers.get("X-Metabase-Session") != "session-1":
                        return self.reply(401, "Unauthenticated")
                    fake.databases.append({"id": len(fake.databases) + 1, **body})
                    return self.reply(200, fake.databases[-1])
                self.reply(404, "Not found")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def posts(self, path: str) -> list[Any]:
        return [body for method, p, body in self.calls if method == "POST" and p == path]


@pytest.fixture
def metabase() -> Iterator[FakeMetabase]:
    fake = FakeMetabase()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def env(metabase: FakeMetabase, **extra: str) -> dict[str, str]:
    return {
        "VIDGEN_METABASE_URL": metabase.url,
        "VIDGEN_METABASE_USER": "admin@example.com",
        "VIDGEN_METABASE_PASSWORD": "mb-pass",
        "VIDGEN_METABASE_DATABASE": "vidgen",
        "VIDGEN_DATABASE_URL": DB_URL,
        "METABASE_WAIT_SECONDS": "5",
        "METABASE_WAIT_INTERVAL": "0.05",
        **extra,
    }


def test_fresh_metabase_gets_admin_and_database_in_one_call(
    metabase: FakeMetabase, capsys: pytest.CaptureFixture[str]
) -> None:
    metabase.healthy_after = 3  # still starting
    assert setup_script.main(env(metabase)) == 0
    (call,) = metabase.posts("/api/setup")
    assert call["token"] == "setup-token-1"
    assert call["user"]["email"] == "admin@example.com" and call["user"]["password"] == "mb-pass"
    assert call["database"] == {
        "engine": "postgres",
        "name": "vidgen",
        "details": {
            "host": "vidgen-postgresql",
            "port": 5432,
            "dbname": "vidgen",
            "user": "vidgen",
            "password": "p@ss",
            "ssl": False,
        },
        "is_full_sync": True,
    }
    assert "set up Metabase" in capsys.readouterr().out
    # A second run (the next helm upgrade) signs in and changes nothing.
    assert setup_script.main(env(metabase)) == 0
    assert len(metabase.posts("/api/setup")) == 1 and metabase.posts("/api/database") == []
    assert "nothing to do" in capsys.readouterr().out


def test_installed_metabase_without_the_database_gets_it(metabase: FakeMetabase) -> None:
    metabase.token = None
    metabase.users = {"admin@example.com": "mb-pass"}
    metabase.databases = [{"id": 1, "name": "Sample Database", "engine": "h2"}]
    assert setup_script.main(env(metabase)) == 0
    (added,) = metabase.posts("/api/database")
    assert added["name"] == "vidgen" and added["details"]["host"] == "vidgen-postgresql"
    assert metabase.posts("/api/setup") == []


def test_wrong_password_is_a_clear_failure(
    metabase: FakeMetabase, capsys: pytest.CaptureFixture[str]
) -> None:
    metabase.token = None
    metabase.users = {"admin@example.com": "another"}
    assert setup_script.main(env(metabase)) == 1
    err = capsys.readouterr().err
    assert "POST /api/session: HTTP 401" in err and "did not match" in err


def test_metabase_never_healthy_gives_up(metabase: FakeMetabase, capsys: pytest.CaptureFixture[str]) -> None:
    metabase.healthy_after = 10_000
    assert setup_script.main(env(metabase, METABASE_WAIT_SECONDS="0.3")) == 1
    assert "is not healthy" in capsys.readouterr().err
    assert metabase.posts("/api/setup") == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite+aiosqlite:///./vidgen.db", "must be a PostgreSQL URL"),
        ("postgresql://u:p@host", "database name"),
    ],
)
def test_bad_database_url(
    metabase: FakeMetabase, capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    assert setup_script.main(env(metabase, VIDGEN_DATABASE_URL=url)) == 1
    assert message in capsys.readouterr().err
    assert metabase.calls == []


def test_missing_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert setup_script.main({"VIDGEN_METABASE_URL": "http://x"}) == 2
    assert "missing setting VIDGEN_METABASE_USER" in capsys.readouterr().err

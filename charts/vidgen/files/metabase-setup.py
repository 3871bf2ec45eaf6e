"""First-run setup of the chart's Metabase, before `vidgen analytics provision` (which expects an
admin to sign in as and vidgen's database to be known to Metabase). Idempotent:

1. wait until Metabase answers GET /api/health with {"status": "ok"};
2. a fresh Metabase (it still has a setup token): POST /api/setup creates the admin and adds
   vidgen's PostgreSQL database in one call;
3. an installed one: sign in, and add the database unless one with that name exists.

Standard library only (it runs in the vidgen image as an init container). Reads
VIDGEN_METABASE_URL, VIDGEN_METABASE_USER, VIDGEN_METABASE_PASSWORD, VIDGEN_METABASE_DATABASE
(the name to give the database in Metabase) and VIDGEN_DATABASE_URL (a SQLAlchemy URL,
postgresql+psycopg://user:password@host:port/dbname). Waits at most METABASE_WAIT_SECONDS.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import unquote, urlsplit


class SetupError(Exception):
    """Metabase refused a step; the message says which."""


def database_details(url: str) -> dict[str, Any]:
    """Metabase's connection details for vidgen's PostgreSQL, from its SQLAlchemy URL."""
    parts = urlsplit(url)
    if not parts.scheme.startswith(("postgresql", "postgres")):
        raise SetupError(f"VIDGEN_DATABASE_URL must be a PostgreSQL URL, not {parts.scheme}://…")
    if not parts.hostname or not parts.path.strip("/"):
        raise SetupError("VIDGEN_DATABASE_URL needs a host and a database name")
    return {
        "host": parts.hostname,
        "port": parts.port or 5432,
        "dbname": parts.path.strip("/"),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "ssl": False,
    }


class Metabase:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session: str | None = None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.session:
            request.add_header("X-Metabase-Session", self.session)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode() or "null"
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise SetupError(f"{method} {path}: HTTP {exc.code}: {detail}") from None
        try:
            return json.loads(text)
        except ValueError:
            return text

    def wait_healthy(self, deadline: float, interval: float = 5.0) -> None:
        last = "no answer"
        while True:
            try:
                answer = self.call("GET", "/api/health")
                if isinstance(answer, dict) and answer.get("status") == "ok":
                    return
                last = repr(answer)
            except (OSError, SetupError) as exc:
                last = str(exc)
            if time.monotonic() + interval > deadline:
                raise SetupError(f"Metabase at {self.base_url} is not healthy: {last}")
            time.sleep(interval)


def database_payload(name: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"engine": "postgres", "name": name, "details": details, "is_full_sync": True}


def setup(mb: Metabase, email: str, password: str, db_name: str, details: dict[str, Any]) -> str:
    """Bring Metabase to "admin exists and knows vidgen's database"; returns what it did."""
    properties = mb.call("GET", "/api/session/properties")
    token = properties.get("setup-token") if isinstance(properties, dict) else None
    if token and not properties.get("has-user-setup"):
        mb.call(
            "POST",
            "/api/setup",
            {
                "token": token,
                "user": {
                    "email": email,
                    "password": password,
                    "first_name": "vidgen",
                    "last_name": "admin",
                    "site_name": "vidgen",
                },
                "prefs": {"site_name": "vidgen", "site_locale": "en", "allow_tracking": False},
                "database": database_payload(db_name, details),
            },
        )
        return "set up Metabase (admin and database)"
    answer = mb.call("POST", "/api/session", {"username": email, "password": password})
    mb.session = answer.get("id") if isinstance(answer, dict) else None
    if not mb.session:
        raise SetupError("signing in to Metabase gave no session id")
    databases = mb.call("GET", "/api/database")
    if isinstance(databases, dict):  # Metabase ≥ 0.40 wraps the list in {"data": [...]}
        databases = databases.get("data", [])
    if any(db.get("name") == db_name for db in databases):
        return "nothing to do"
    mb.call("POST", "/api/database", database_payload(db_name, details))
    return f"added the database {db_name!r}"


def main(environ: dict[str, str] | None = None) -> int:
    env = dict(os.environ if environ is None else environ)
    missing = [
        name
        for name in (
            "VIDGEN_METABASE_URL",
            "VIDGEN_METABASE_USER",
            "VIDGEN_METABASE_PASSWORD",
            "VIDGEN_DATABASE_URL",
        )
        if not env.get(name)
    ]
    if missing:
        print(f"metabase-setup: missing setting {missing[0]}", file=sys.stderr)
        return 2
    try:
        details = database_details(env["VIDGEN_DATABASE_URL"])
        mb = Metabase(env["VIDGEN_METABASE_URL"])
        mb.wait_healthy(
            time.monotonic() + float(env.get("METABASE_WAIT_SECONDS", "900")),
            interval=float(env.get("METABASE_WAIT_INTERVAL", "5")),
        )
        done = setup(
            mb,
            env["VIDGEN_METABASE_USER"],
            env["VIDGEN_METABASE_PASSWORD"],
            env.get("VIDGEN_METABASE_DATABASE") or "vidgen",
            details,
        )
    except SetupError as exc:
        print(f"metabase-setup: {exc}", file=sys.stderr)
        return 1
    print(f"metabase-setup: {done}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

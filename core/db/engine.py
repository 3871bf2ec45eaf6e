"""Engines and sessions. One async engine per process; URLs are SQLAlchemy URLs
(`postgresql+psycopg://…`, `sqlite+aiosqlite:///…`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SessionMaker = async_sessionmaker[AsyncSession]


def async_url(url: str) -> str:
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    u = make_url(url)
    if u.drivername == "sqlite+aiosqlite":
        u = u.set(drivername="sqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+asyncpg"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str, *, relaxed_commit: bool = False, **kwargs: object) -> AsyncEngine:
    """An async engine. `relaxed_commit` (PostgreSQL): the sessions commit without waiting for the
    WAL flush (`synchronous_commit=off`) unless the transaction moved money — `durable_commit`,
    called by the ledger and the payment record, makes that transaction's commit wait. For the
    bot, whose every update writes its update id: a crash of the database server may forget the
    last few handled update ids (those updates would be handled again), never a credit."""
    url = async_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 40)
    if relaxed_commit:
        kwargs.setdefault("connect_args", {"options": "-c synchronous_commit=off"})
    return create_async_engine(url, **kwargs)


async def durable_commit(session: AsyncSession) -> None:
    """Make the current transaction's commit wait for the WAL flush (PostgreSQL), whatever the
    session's default: every transaction that moves money calls this."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL synchronous_commit TO on"))


def make_sessionmaker(engine: AsyncEngine) -> SessionMaker:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: SessionMaker) -> AsyncIterator[AsyncSession]:
    """A session in one transaction: committed on success, rolled back on any error."""
    async with sessions() as session, session.begin():
        yield session


def dialect_insert(session: AsyncSession) -> Any:
    """`insert` with ON CONFLICT support for the session's database (PostgreSQL or SQLite)."""
    bind = session.get_bind()
    return pg_insert if bind.dialect.name == "postgresql" else sqlite_insert

"""Users: created once (with the signup bonus in the same transaction), then kept up to date."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import ledger
from . import events
from .engine import dialect_insert
from .models import User, utcnow
from .sqla_ledger import apply


@dataclass(frozen=True)
class Signup:
    user: User
    created: bool


async def ensure_user(
    session: AsyncSession,
    user_id: int,
    *,
    free_credits: int,
    language: str = "en",
    username: str | None = None,
    first_name: str | None = None,
) -> Signup:
    """Insert the user if new (granting `free_credits` exactly once, even under concurrent
    calls); otherwise refresh username/first name. Returns the row and whether it was created."""
    insert = dialect_insert(session)
    created_id = (
        await session.execute(
            insert(User)
            .values(id=user_id, username=username, first_name=first_name, language=language, balance=0)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(User.id)
        )
    ).scalar_one_or_none()
    created = created_id is not None
    if created:
        if free_credits > 0:
            await apply(session, ledger.signup_bonus(user_id, free_credits))
        await events.record(session, events.USER_REGISTERED, user_id=user_id, language=language)
    else:
        await session.execute(
            update(User)
            .where(User.id == user_id)
            .where(
                (User.username.is_distinct_from(username)) | (User.first_name.is_distinct_from(first_name))
            )
            .values(username=username, first_name=first_name, updated_at=utcnow())
        )
    user = await session.scalar(
        select(User).where(User.id == user_id).execution_options(populate_existing=True)
    )
    assert user is not None
    return Signup(user, created)

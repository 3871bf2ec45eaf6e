"""API keys for the HTTP API: made once (the key is shown once and only its SHA-256 is stored),
listed, revoked, and checked in constant time. Each key is bound to an account (a user and its
credits) and carries the webhook signing secret (Standard Webhooks, `whsec_` + base64) its
generations' webhooks are signed with.

A key reads `vgk_<prefix>_<secret>`: the prefix (public, unique) finds the row, the whole key's
hash is compared with `hmac.compare_digest`. A missing prefix is compared against a dummy hash,
so a wrong key costs the same time whether or not its prefix exists."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .engine import dialect_insert
from .models import ApiKey, utcnow
from .users import ensure_user

KEY_SCHEME = "vgk"
_DUMMY_HASH = hashlib.sha256(b"vidgen-no-such-key").hexdigest()


class KeyNameTaken(ValueError):
    """The account already has a key with this name (nothing was made)."""


@dataclass(frozen=True)
class NewKey:
    id: int
    user_id: int
    name: str
    key: str  # shown once
    webhook_secret: str  # shown once


@dataclass(frozen=True)
class KeyInfo:
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def split_key(key: str) -> str | None:
    """The key's prefix, or None if it is not shaped like a vidgen key."""
    parts = key.split("_", 2)  # the secret part may contain "_" (URL-safe base64)
    if len(parts) != 3 or parts[0] != KEY_SCHEME or not parts[1] or not parts[2]:
        return None
    return parts[1]


async def create_key(session: AsyncSession, user_id: int, name: str = "", *, free_credits: int = 0) -> NewKey:
    """A new key for `user_id` (the account is created, with its signup bonus, if it is new).
    Names are unique per account (empty: `key-<prefix>`), so a replayed request that names its
    key after itself makes one key; KeyNameTaken otherwise."""
    await ensure_user(session, user_id, free_credits=free_credits)
    prefix = secrets.token_hex(6)
    key = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    label = (name.strip() or f"key-{prefix}")[:64]
    webhook_secret = new_webhook_secret()
    key_id = (
        await session.execute(
            dialect_insert(session)(ApiKey)
            .values(
                user_id=user_id,
                name=label,
                prefix=prefix,
                key_hash=hash_key(key),
                webhook_secret=webhook_secret,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["user_id", "name"])
            .returning(ApiKey.id)
        )
    ).scalar_one_or_none()
    if key_id is None:
        raise KeyNameTaken(f"account {user_id} already has a key named {label!r}")
    return NewKey(int(key_id), user_id, label, key, webhook_secret)


async def authenticate(session: AsyncSession, key: str) -> ApiKey | None:
    """The live key row for `key`, or None (unknown, malformed or revoked)."""
    prefix = split_key(key)
    row = None
    if prefix is not None:
        row = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    expected = row.key_hash if row is not None else _DUMMY_HASH
    if not hmac.compare_digest(hash_key(key), expected) or row is None or row.revoked_at is not None:
        return None
    return row


async def list_keys(session: AsyncSession, user_id: int | None = None) -> list[KeyInfo]:
    query = select(ApiKey).order_by(ApiKey.id)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    return [
        KeyInfo(k.id, k.user_id, k.name, k.prefix, k.created_at, k.revoked_at)
        for k in (await session.scalars(query)).all()
    ]


async def revoke_key(session: AsyncSession, key_id: int, user_id: int | None = None) -> bool:
    """Revoke a key (idempotent). Returns whether such a key exists (for `user_id`, if given)."""
    query = select(ApiKey).where(ApiKey.id == key_id)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    row = await session.scalar(query)
    if row is None:
        return False
    await session.execute(
        update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    return True

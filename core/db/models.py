"""SQLAlchemy 2 models: the system of record (PostgreSQL; SQLite in local mode)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # Telegram id
    username: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str | None] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(8), default="en")
    balance: Mapped[int] = mapped_column(Integer, default=0)
    is_blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The style preset chosen last (core/styles.py), offered first next time (migration 0004).
    style: Mapped[str | None] = mapped_column(String(32))
    #: Who invited this user (set once, at signup, from the invite link; migration 0005).
    referred_by: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CreditEntry(Base):
    __tablename__ = "credit_entries"
    __table_args__ = (
        UniqueConstraint("kind", "ref", name="uq_credit_entries_kind_ref"),
        CheckConstraint("delta <> 0", name="delta_not_zero"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), index=True)
    delta: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(128))
    actor: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Generation(Base):
    """Mirror of a VideoGeneration (and, in local mode, the object the local controller drives)."""

    __tablename__ = "generations"
    __table_args__ = (Index("ix_generations_user_created", "user_id", "created_at"),)

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    phase: Mapped[str] = mapped_column(String(16), default="Pending", index=True)
    prompt: Mapped[str] = mapped_column(Text, default="")
    enhanced_prompt: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(64))
    aspect_ratio: Mapped[str] = mapped_column(String(16), default="portrait")
    duration_seconds: Mapped[int] = mapped_column(Integer, default=10)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    photo_key: Mapped[str] = mapped_column(String(255))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[int] = mapped_column(Integer, default=1)
    status_message_id: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0)
    job_name: Mapped[str | None] = mapped_column(String(63))
    provider_task_id: Mapped[str | None] = mapped_column(String(128))
    error_class: Mapped[str | None] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    video_key: Mapped[str | None] = mapped_column(String(255))
    video_bytes: Mapped[int | None] = mapped_column(BigInteger)
    video_duration: Mapped[float | None] = mapped_column()
    telegram_file_id: Mapped[str | None] = mapped_column(String(255))
    refunded: Mapped[bool] = mapped_column(Boolean, default=False)
    # Local mode only (migration 0003): the CRD-shaped status the local controller drives (NULL
    # until launched) and whether nothing is left to do. In a cluster both stay NULL/False.
    status: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    settled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    not_before: Mapped[datetime | None] = mapped_column()
    # When its photo, video and prompt were deleted (retention or /forget); the row stays for
    # the ledger's sake, without content (migration 0004).
    purged_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    charge_id: Mapped[str] = mapped_column(String(128), unique=True)  # telegram_payment_charge_id
    provider_charge_id: Mapped[str | None] = mapped_column(String(128))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), index=True)
    package_id: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(8), default="XTR")
    stars: Mapped[int] = mapped_column(Integer)
    credits: Mapped[int] = mapped_column(Integer)
    refunded: Mapped[bool] = mapped_column(Boolean, default=False)
    refunded_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Event(Base):
    """Analytics events, written in the same transaction as the change they describe."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_type_created", "type", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(48))
    user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    generation: Mapped[str | None] = mapped_column(String(63), index=True)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Outbox(Base):
    """Work to do after a commit (launching a VideoGeneration), so a crash loses nothing."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), default="launch")
    generation: Mapped[str] = mapped_column(String(63), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(index=True)


class ApiKey(Base):
    """A key for the HTTP API, bound to an account (a user's credits). Only the key's SHA-256 is
    stored; `prefix` (public, unique) finds the row. `webhook_secret` signs this key's webhooks
    (Standard Webhooks, `whsec_…`): it has to be readable to sign, so it is kept as is."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_api_keys_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(64), default="")
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    webhook_secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class ApiRequest(Base):
    """One POST /v1/generations: its generation's name (derived from the account and the
    Idempotency-Key, so a retry maps to the same generation), the request's fingerprint (a reuse
    of the key with another body is refused) and where its webhook goes."""

    __tablename__ = "api_requests"

    generation: Mapped[str] = mapped_column(String(63), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    api_key_id: Mapped[int] = mapped_column(Integer, ForeignKey("api_keys.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_api_requests_user_created", "user_id", "created_at"),)


class WebhookDelivery(Base):
    """The webhook outbox: one message per (generation, event type), sent until a 2xx answer or
    the retries run out; `msg_id` is the `webhook-id` every attempt carries (receivers dedupe)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("generation", "event_type", name="uq_webhook_deliveries_gen_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    msg_id: Mapped[str] = mapped_column(String(64), unique=True)
    generation: Mapped[str] = mapped_column(String(63))
    event_type: Mapped[str] = mapped_column(String(32))
    api_key_id: Mapped[int] = mapped_column(Integer, ForeignKey("api_keys.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookAttempt(Base):
    """Each try at sending a webhook: when, what came back."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(Integer, ForeignKey("webhook_deliveries.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TelegramUpdate(Base):
    """An update id the bot has handled (inserted in the update's own transaction), so an update
    delivered again is skipped."""

    __tablename__ = "telegram_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

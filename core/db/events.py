"""Analytics events: one row per meaningful step, written in the caller's transaction so a
rolled-back change leaves no event."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from .models import Event

USER_REGISTERED = "user_registered"
PHOTO_RECEIVED = "photo_received"
GENERATION_REQUESTED = "generation_requested"
GENERATION_STARTED = "generation_started"
GENERATION_SUCCEEDED = "generation_succeeded"
GENERATION_FAILED = "generation_failed"
VIDEO_DELIVERED = "video_delivered"
DELIVERY_FAILED = "delivery_failed"
CREDITS_REFUNDED = "credits_refunded"
INVOICE_SENT = "invoice_sent"
PAYMENT_SUCCEEDED = "payment_succeeded"
PAYMENT_REFUNDED = "payment_refunded"
CREDITS_GRANTED = "credits_granted"

ALL = frozenset(
    {
        USER_REGISTERED,
        PHOTO_RECEIVED,
        GENERATION_REQUESTED,
        GENERATION_STARTED,
        GENERATION_SUCCEEDED,
        GENERATION_FAILED,
        VIDEO_DELIVERED,
        DELIVERY_FAILED,
        CREDITS_REFUNDED,
        INVOICE_SENT,
        PAYMENT_SUCCEEDED,
        PAYMENT_REFUNDED,
        CREDITS_GRANTED,
    }
)


async def record(
    session: AsyncSession,
    type_: str,
    *,
    user_id: int | None = None,
    generation: str | None = None,
    **properties: Any,
) -> None:
    if type_ not in ALL:
        raise ValueError(f"unknown event type {type_!r}")
    session.add(Event(type=type_, user_id=user_id, generation=generation, properties=properties))
    await session.flush()

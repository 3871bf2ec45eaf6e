"""A generation request, the same for every front door (the bot, `vidgen generate`, the HTTP
API): the debit, the generation row, the outbox row and the event in one transaction, once per
name; then the launch, whose failure is left on the outbox row for the sweeper."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from vidgen.core.logging import get_logger
from vidgen.core.models import GenerationSpec
from vidgen.core.ports import GenerationLauncher

from . import generations

log = get_logger(__name__)


async def request(session: AsyncSession, spec: GenerationSpec, cost: int) -> tuple[int, bool]:
    """Returns (balance after, whether this call created the request). Raises
    InsufficientCredits with nothing written when the balance is too low. Launch next."""
    try:
        balance, created = await generations.create_request(session, spec, cost)
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    if created:
        log.info("generation requested", generation=spec.name, user_id=spec.user_id, balance=balance)
    return balance, created


async def request_many(session: AsyncSession, specs: list[GenerationSpec], cost: int) -> tuple[int, int]:
    """Several requests (an album: one debit per video) in one transaction, all or none: raises
    InsufficientCredits with nothing written when the balance does not cover the ones not yet
    made. Idempotent per name like `request`. Returns (balance after, how many were created)."""
    balance, created = 0, 0
    try:
        for spec in specs:
            balance, made = await generations.create_request(session, spec, cost)
            created += made
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    if created:
        log.info("generations requested", count=created, user_id=specs[0].user_id, balance=balance)
    return balance, created


async def launch(session: AsyncSession, launcher: GenerationLauncher, spec: GenerationSpec) -> bool:
    """Hand the spec to the launcher and mark the outbox row; a failure is counted on the row and
    left to the sweeper (the user's credit is safe either way)."""
    try:
        await launcher.launch(spec)
    except Exception as exc:
        log.warning("launch failed; the sweeper will retry", generation=spec.name, error=repr(exc))
        await generations.mark_launch_failed(session, spec.name, repr(exc))
        await session.commit()
        return False
    await generations.mark_launched(session, spec.name)
    await session.commit()
    return True

"""telegram_updates: the update ids the bot has handled; generations.purged_at

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 18:00:00

Telegram delivers an update again when the bot did not acknowledge it (a webhook that timed out,
a poller restarted before confirming its offset). The bot inserts the update's id in the same
transaction as the update's own writes; an id already there means the update was handled and is
skipped. Rows older than a few days are pruned by the bot's sweeper (Telegram keeps undelivered
updates for 24 hours).

`generations.purged_at`: when a generation's photo, video and prompt were deleted (after the
retention period, or by /forget); the row stays without content, for the ledger's sake.
`users.style`: the style preset the user chose last (core/styles.py), offered first next time.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "telegram_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_telegram_updates")),
    )
    op.create_index(op.f("ix_telegram_updates_received_at"), "telegram_updates", ["received_at"])
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("style", sa.String(length=32), nullable=True))
    with op.batch_alter_table("generations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_generations_purged_at"), ["purged_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("generations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_generations_purged_at"))
        batch_op.drop_column("purged_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("style")
    op.drop_index(op.f("ix_telegram_updates_received_at"), table_name="telegram_updates")
    op.drop_table("telegram_updates")

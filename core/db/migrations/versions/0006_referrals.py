"""users.referred_by: who invited the user (referrals)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 19:00:00

Set once, at signup, from the invite link (`/start ref<id>`); the referral bonuses are ledger
entries of kind `referral_bonus` (credit_entries.kind is free text: no constraint to change).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referred_by", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_referred_by"), ["referred_by"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_referred_by"))
        batch_op.drop_column("referred_by")

"""generations: the CRD-shaped status (local mode)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 08:30:00

In a cluster the VideoGeneration's status is the source of truth and `generations` mirrors it.
In local mode there is no cluster: the local controller keeps the same status document in
`generations.status` (NULL until the generation is launched, like an object not yet created) and
`settled` (nothing left to do), which keeps its listing of open generations cheap. The mirror
columns are kept up to date as in a cluster.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column("settled", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(batch_op.f("ix_generations_settled"), ["settled"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("generations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_generations_settled"))
        batch_op.drop_column("settled")
        batch_op.drop_column("status")

"""Routing versions say what they changed: the départements whose section a version
touched (``departements``, codes separated by commas; NULL for a whole file sent by a
national admin), a French summary of the changes (``changes``, one per line) and the
version it restores (``restored_from``), and for a version made from a form the version
it was made from (``based_on``, unique: two edits of one version cannot both be recorded).
The author and the comment were already kept.

Revision ID: v0008
Revises: v0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0008"
down_revision = "v0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("config_versions") as batch:
        batch.add_column(sa.Column("departements", sa.String(1024), nullable=True))
        batch.add_column(sa.Column("changes", sa.Text(), nullable=True))
        batch.add_column(sa.Column("restored_from", BigId, nullable=True))
        batch.add_column(sa.Column("based_on", BigId, nullable=True))
        batch.create_unique_constraint("uq_config_versions_based_on", ["based_on"])


def downgrade() -> None:
    with op.batch_alter_table("config_versions") as batch:
        batch.drop_constraint("uq_config_versions_based_on", type_="unique")
        batch.drop_column("based_on")
        batch.drop_column("restored_from")
        batch.drop_column("changes")
        batch.drop_column("departements")

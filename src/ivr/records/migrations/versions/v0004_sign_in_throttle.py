"""Accounts: a forced password change and the last sign-in; the failed sign-in counters
(``sign_in_throttle``), shared by every instance of the service.

Revision ID: v0004
Revises: v0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0004"
down_revision = "v0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_sign_in_throttle"),
    )
    op.create_index("ix_sign_in_throttle_updated_at", "sign_in_throttle", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_sign_in_throttle_updated_at", table_name="sign_in_throttle")
    op.drop_table("sign_in_throttle")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("last_sign_in_at")
        batch.drop_column("must_change_password")

"""Accounts: a password hash (scrypt, per-account salt) and a listener's phone number.

Both columns are nullable: existing accounts keep working for roles, and cannot sign in to
the consoles until a password is set.

Revision ID: v0003
Revises: v0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0003"
down_revision = "v0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(255), nullable=True))
        batch.add_column(sa.Column("phone", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("phone")
        batch.drop_column("password_hash")

"""sisiao_link: the outbox of emergency requests, SI SIAO incidents and their events.

The tables are defined in ``sisiao_link.outbox`` (``outbox_metadata``); this migration is a
frozen copy of them as they were at this revision. A later change there needs a new
migration here (``tests/records/test_migrations.py`` fails until it exists).

Revision ID: v0002
Revises: v0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0002"
down_revision = "v0001"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sisiao_outbox",
        sa.Column("seq", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("local_id", sa.String(36), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("utilisateur", sa.String(200), nullable=False),
        sa.Column("call_ref", sa.String(100), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("sisiao_demande_id", sa.String(64), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("idempotency_key"),
        sa.UniqueConstraint("local_id"),
    )
    op.create_index("ix_sisiao_outbox_state_seq", "sisiao_outbox", ["state", "seq"])
    op.create_index("ix_sisiao_outbox_utilisateur", "sisiao_outbox", ["utilisateur"])

    op.create_table(
        "sisiao_incidents",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sisiao_incidents_closed_at", "sisiao_incidents", ["closed_at"])

    op.create_table(
        "sisiao_incident_events",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", _BIG_ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["sisiao_incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_sisiao_incident_events_incident_id", "sisiao_incident_events", ["incident_id"]
    )


def downgrade() -> None:
    op.drop_table("sisiao_incident_events")
    op.drop_table("sisiao_incidents")
    op.drop_table("sisiao_outbox")

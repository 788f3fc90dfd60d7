"""National support's tickets (``support_tickets``) and agents' posts (``support_agents``).

Every existing escalation becomes a ticket of source ``escalation`` (status carried over:
open → new, in_progress → in_progress, closed → closed), so the inbox holds them all.

Revision ID: v0006
Revises: v0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0006"
down_revision = "v0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STATUSES = {"open": "new", "in_progress": "in_progress", "closed": "closed"}


def upgrade() -> None:
    op.create_table(
        "support_tickets",
        sa.Column("id", BigId, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("call_id", sa.String(128), nullable=True),
        sa.Column("escalation_id", BigId, nullable=True),
        sa.Column("departement", sa.String(3), nullable=True),
        sa.Column("menu_reason", sa.String(64), nullable=True),
        sa.Column("motif", sa.String(64), nullable=True),
        sa.Column("sub_motif", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalations.id"],
            name="fk_support_tickets_escalation_id_escalations",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_support_tickets"),
        sa.UniqueConstraint("escalation_id", name="uq_support_tickets_escalation_id"),
    )
    for column in ("call_id", "departement", "motif", "status", "created_at"):
        op.create_index(f"ix_support_tickets_{column}", "support_tickets", [column])
    op.create_table(
        "support_agents",
        sa.Column("login", sa.String(128), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("presence", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("login", name="pk_support_agents"),
    )
    _tickets_from_escalations()


def _tickets_from_escalations() -> None:
    escalations = sa.table(
        "escalations",
        sa.column("id"),
        sa.column("call_id"),
        sa.column("departement"),
        sa.column("reason_code"),
        sa.column("note"),
        sa.column("status"),
        sa.column("created_by"),
        sa.column("created_at"),
        sa.column("updated_at"),
        sa.column("closed_at"),
    )
    status = sa.case(
        *((escalations.c.status == old, new) for old, new in STATUSES.items()), else_="new"
    )
    tickets = sa.table(
        "support_tickets",
        *(
            sa.column(name)
            for name in (
                "source",
                "call_id",
                "escalation_id",
                "departement",
                "menu_reason",
                "note",
                "status",
                "created_by",
                "created_at",
                "updated_by",
                "updated_at",
                "closed_at",
            )
        ),
    )
    select = sa.select(
        sa.literal("escalation"),
        escalations.c.call_id,
        escalations.c.id,
        escalations.c.departement,
        escalations.c.reason_code,
        escalations.c.note,
        status,
        escalations.c.created_by,
        escalations.c.created_at,
        escalations.c.created_by,
        escalations.c.updated_at,
        escalations.c.closed_at,
    )
    op.execute(tickets.insert().from_select([c.name for c in tickets.columns], select))


def downgrade() -> None:
    op.drop_table("support_agents")
    for column in ("created_at", "status", "motif", "departement", "call_id"):
        op.drop_index(f"ix_support_tickets_{column}", table_name="support_tickets")
    op.drop_table("support_tickets")

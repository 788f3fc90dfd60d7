"""Report roll-ups: call counters per local day, département, line, reason and hour
(``report_rollups``), the answered calls' waits (``report_waits``) and the days rolled up
(``report_rollup_days``), so that a national monthly report reads thousands of rows, not
the month's calls (docs/reporting.md, "Roll-ups").

Revision ID: v0007
Revises: v0005 (v0006 is added on another branch; the chain is set at merge)
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0007"
down_revision = "v0005"
branch_labels = None
depends_on = None

COUNTERS = (
    "received",
    "answered",
    "abandoned",
    "abandoned_menu",
    "abandoned_queue",
    "abandoned_ringing",
    "deterred",
    "lro",
    "callbacks_offered",
    "repeat_24h",
    "repeat_7d",
)


def _group() -> list[sa.Column[object]]:
    return [
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("departement", sa.String(3), nullable=False),
        sa.Column("line", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "report_rollup_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_report_rollup_days"),
    )
    op.create_table(
        "report_rollups",
        *_group(),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTERS),
        sa.Column("talk_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "departement", "line", "reason", "hour", name="pk_report_rollups"
        ),
    )
    op.create_index("ix_report_rollups_departement_day", "report_rollups", ["departement", "day"])
    op.create_table(
        "report_waits",
        *_group(),
        sa.Column("wait_s", sa.Float(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "departement", "line", "reason", "hour", "wait_s", name="pk_report_waits"
        ),
    )
    op.create_index("ix_report_waits_departement_day", "report_waits", ["departement", "day"])


def downgrade() -> None:
    op.drop_index("ix_report_waits_departement_day", table_name="report_waits")
    op.drop_table("report_waits")
    op.drop_index("ix_report_rollups_departement_day", table_name="report_rollups")
    op.drop_table("report_rollups")
    op.drop_table("report_rollup_days")

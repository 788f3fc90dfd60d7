"""Report roll-ups: call counters per local day, département, line and reason
(``report_rollups``) and per local day, département and hour (``report_hours``), the
answered calls' waits (``report_waits``) and the days rolled up (``report_rollup_days``),
so that a national monthly report reads thousands of rows, not the month's calls
(docs/reporting.md, "Roll-ups").

Revision ID: v0007
Revises: v0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "v0007"
down_revision = "v0006"
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


def _group(*names: str) -> list[sa.Column[Any]]:
    types: dict[str, Any] = {
        "day": sa.Date(),
        "departement": sa.String(3),
        "line": sa.String(16),
        "reason": sa.String(64),
        "hour": sa.SmallInteger(),
    }
    return [sa.Column(name, types[name], nullable=False) for name in names]


def _counters() -> list[sa.Column[Any]]:
    return [
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTERS),
        sa.Column("talk_s", sa.Float(), nullable=False),
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
        *_group("day", "departement", "line", "reason"),
        *_counters(),
        sa.PrimaryKeyConstraint("day", "departement", "line", "reason", name="pk_report_rollups"),
    )
    op.create_index("ix_report_rollups_departement_day", "report_rollups", ["departement", "day"])
    op.create_table(
        "report_hours",
        *_group("day", "departement", "hour"),
        *_counters(),
        sa.PrimaryKeyConstraint("day", "departement", "hour", name="pk_report_hours"),
    )
    op.create_index("ix_report_hours_departement_day", "report_hours", ["departement", "day"])
    op.create_table(
        "report_waits",
        *_group("day", "departement", "line", "reason", "hour"),
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
    op.drop_index("ix_report_hours_departement_day", table_name="report_hours")
    op.drop_table("report_hours")
    op.drop_index("ix_report_rollups_departement_day", table_name="report_rollups")
    op.drop_table("report_rollups")
    op.drop_table("report_rollup_days")

"""Records: calls and legs, recordings, call-backs, flagged numbers, escalations, accounts
and roles, configuration versions, audit log.

Revision ID: v0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "v0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)


def _ref(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)


def _when(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "calls",
        _id(),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("line", sa.String(16), nullable=True),
        sa.Column("departement", sa.String(3), nullable=True),
        sa.Column("caller", sa.String(32), nullable=True),
        sa.Column("called", sa.String(32), nullable=False),
        _when("arrived_at"),
        _when("answered_at", nullable=True),
        _when("ended_at"),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("tier_reached", sa.String(16), nullable=True),
        sa.Column("connected_to", sa.String(32), nullable=True),
        sa.Column("connected_role", sa.String(16), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("deterrence", sa.String(32), nullable=True),
        sa.Column("lro_used", sa.Boolean(), nullable=False),
        sa.Column("callback_registered", sa.Boolean(), nullable=False),
        sa.Column("prompts", sa.JSON(), nullable=False),
        sa.Column("instance_id", sa.String(128), nullable=True),
        sa.Column("takeovers", sa.Integer(), nullable=False),
        _when("caller_purged_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_calls"),
        sa.UniqueConstraint("call_id", name="uq_calls_call_id"),
    )
    op.create_index("ix_calls_arrived_at", "calls", ["arrived_at"])
    op.create_index("ix_calls_caller", "calls", ["caller"])
    op.create_index("ix_calls_departement", "calls", ["departement"])

    leg_and_event: tuple[tuple[str, list[sa.Column[str] | sa.Column[datetime]]], ...] = (
        (
            "call_legs",
            [
                sa.Column("number", sa.String(32), nullable=False),
                sa.Column("role", sa.String(16), nullable=False),
                sa.Column("result", sa.String(16), nullable=False),
                _when("started_at", nullable=True),
            ],
        ),
        (
            "call_events",
            [
                sa.Column("kind", sa.String(32), nullable=False),
                sa.Column("detail", sa.String(200), nullable=True),
                _when("at", nullable=True),
            ],
        ),
    )
    for table, columns in leg_and_event:
        op.create_table(
            table,
            _id(),
            _ref("call_pk"),
            sa.Column("seq", sa.Integer(), nullable=False),
            *columns,
            sa.ForeignKeyConstraint(
                ["call_pk"], ["calls.id"], name=f"fk_{table}_call_pk_calls", ondelete="CASCADE"
            ),
            sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
            sa.UniqueConstraint("call_pk", "seq", name=f"uq_{table}_call_pk"),
        )

    op.create_table(
        "recordings",
        _id(),
        sa.Column("call_id", sa.String(128), nullable=False),
        _when("started_at"),
        sa.Column("duration_s", sa.Double(), nullable=True),
        sa.Column("location", sa.String(500), nullable=True),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        _when("purged_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_recordings"),
    )
    op.create_index("ix_recordings_call_id", "recordings", ["call_id"])
    op.create_index("ix_recordings_started_at", "recordings", ["started_at"])

    op.create_table(
        "callbacks",
        _id(),
        sa.Column("call_id", sa.String(128), nullable=True),
        sa.Column("departement", sa.String(3), nullable=False),
        sa.Column("number", sa.String(32), nullable=True),
        _when("requested_at"),
        sa.Column("status", sa.String(16), nullable=False),
        _when("done_at", nullable=True),
        sa.Column("done_by", sa.String(128), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_callbacks"),
        sa.UniqueConstraint("call_id", name="uq_callbacks_call_id"),
    )
    op.create_index("ix_callbacks_departement", "callbacks", ["departement"])
    op.create_index("ix_callbacks_requested_at", "callbacks", ["requested_at"])

    op.create_table(
        "flagged_numbers",
        _id(),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("departement", sa.String(3), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("flagged_by", sa.String(128), nullable=False),
        _when("flagged_at"),
        sa.Column("active", sa.Boolean(), nullable=False),
        _when("cleared_at", nullable=True),
        sa.Column("cleared_by", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_flagged_numbers"),
        sa.UniqueConstraint("number", name="uq_flagged_numbers_number"),
    )

    op.create_table(
        "escalations",
        _id(),
        sa.Column("call_id", sa.String(128), nullable=True),
        sa.Column("departement", sa.String(3), nullable=True),
        sa.Column("from_tier", sa.Integer(), nullable=False),
        sa.Column("to_tier", sa.Integer(), nullable=False),
        sa.Column("reason_code", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        _when("closed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_escalations"),
    )
    op.create_index("ix_escalations_call_id", "escalations", ["call_id"])
    op.create_index("ix_escalations_status", "escalations", ["status"])

    op.create_table(
        "accounts",
        _id(),
        sa.Column("login", sa.String(128), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("login", name="uq_accounts_login"),
    )
    op.create_table(
        "account_roles",
        _id(),
        _ref("account_id"),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("departement", sa.String(3), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_account_roles_account_id_accounts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_account_roles"),
        sa.UniqueConstraint(
            "account_id", "role", "departement", name="uq_account_roles_account_id"
        ),
    )
    op.create_index("ix_account_roles_account_id", "account_roles", ["account_id"])

    op.create_table(
        "config_versions",
        _id(),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        _when("created_at"),
        _when("applied_at", nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_config_versions"),
    )
    op.create_index("ix_config_versions_sha256", "config_versions", ["sha256"])

    op.create_table(
        "audit_log",
        _id(),
        _when("at"),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("object_type", sa.String(64), nullable=False),
        sa.Column("object_id", sa.String(128), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    for table in (
        "audit_log",
        "config_versions",
        "account_roles",
        "accounts",
        "escalations",
        "flagged_numbers",
        "callbacks",
        "recordings",
        "call_events",
        "call_legs",
        "calls",
    ):
        op.drop_table(table)

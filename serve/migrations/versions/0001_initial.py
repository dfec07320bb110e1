"""Initial schema: users and tokens, grids, forecast runs, the review queue, patrol reports
and the hash-chained audit log (with its one-row chain head, seeded with the genesis hash).

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64  # prev_hash of the first audit entry (serve.tables.GENESIS_HASH)


def upgrade() -> None:
    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("object_type", sa.String(length=100), nullable=False),
        sa.Column("object_id", sa.String(length=200), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=True),
        sa.Column("score", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    op.create_index(op.f("ix_audit_log_actor"), "audit_log", ["actor"])
    op.create_index(
        op.f("ix_audit_log_object_type_object_id"), "audit_log", ["object_type", "object_id"]
    )

    op.create_table(
        "forecast_runs",
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("issue_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("data_fingerprint", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n_grids", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_forecast_runs")),
    )
    op.create_index(op.f("ix_forecast_runs_issue_time"), "forecast_runs", ["issue_time"])

    op.create_table(
        "grids",
        sa.Column("grid_id", sa.String(length=200), nullable=False),
        sa.Column("community_id", sa.String(length=200), nullable=False),
        sa.Column("street_id", sa.String(length=200), nullable=False),
        sa.Column("grid_type", sa.String(length=50), nullable=True),
        sa.Column("centroid_lon", sa.Float(), nullable=True),
        sa.Column("centroid_lat", sa.Float(), nullable=True),
        sa.Column("geometry", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("grid_id", name=op.f("pk_grids")),
    )
    op.create_index(op.f("ix_grids_community_id"), "grids", ["community_id"])
    op.create_index(op.f("ix_grids_street_id"), "grids", ["street_id"])

    op.create_table(
        "patrol_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_report_id", sa.String(length=200), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("grid_id", sa.String(length=200), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_reports")),
        sa.UniqueConstraint("client_report_id", name=op.f("uq_patrol_reports_client_report_id")),
    )
    op.create_index(op.f("ix_patrol_reports_grid_id"), "patrol_reports", ["grid_id"])
    op.create_index(op.f("ix_patrol_reports_worker"), "patrol_reports", ["worker"])

    op.create_table(
        "review_items",
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.Column("grid_id", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("original_level", sa.String(length=10), nullable=False),
        sa.Column("prob", sa.Float(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("expected_count", sa.Float(), nullable=True),
        sa.Column("run_id", sa.String(length=200), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sa.String(length=40), nullable=True),
        sa.Column("reject_text", sa.Text(), nullable=True),
        sa.Column("escalated_by", sa.String(length=200), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("dispatched_by", sa.String(length=200), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_review_items")),
        sa.UniqueConstraint(
            "grid_id",
            "target",
            "window_start",
            name=op.f("uq_review_items_grid_id_target_window_start"),
        ),
    )
    op.create_index(op.f("ix_review_items_grid_id"), "review_items", ["grid_id"])
    op.create_index(op.f("ix_review_items_state_level"), "review_items", ["state", "level"])

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("scope_kind", sa.String(length=20), nullable=False),
        sa.Column("scope_values", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "forecasts",
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("grid_id", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("prob", sa.Float(), nullable=False),
        sa.Column("expected_count", sa.Float(), nullable=True),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["forecast_runs.run_id"],
            name=op.f("fk_forecasts_run_id_forecast_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "grid_id", "target", name=op.f("pk_forecasts")),
    )
    op.create_index(op.f("ix_forecasts_run_id_target"), "forecasts", ["run_id", "target"])
    op.create_table(
        "review_revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prob", sa.Float(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("run_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["review_items.item_id"],
            name=op.f("fk_review_revisions_item_id_review_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_revisions")),
        sa.UniqueConstraint(
            "item_id", "revision", name=op.f("uq_review_revisions_item_id_revision")
        ),
    )
    op.create_index(op.f("ix_review_revisions_item_id"), "review_revisions", ["item_id"])

    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_tokens_token_sha256")),
    )
    op.create_index(op.f("ix_tokens_user_id"), "tokens", ["user_id"])

    op.bulk_insert(audit_head, [{"id": 1, "last_seq": 0, "last_hash": GENESIS_HASH}])


def downgrade() -> None:
    op.drop_index(op.f("ix_tokens_user_id"), table_name="tokens")

    op.drop_table("tokens")
    op.drop_index(op.f("ix_review_revisions_item_id"), table_name="review_revisions")

    op.drop_table("review_revisions")
    op.drop_index(op.f("ix_forecasts_run_id_target"), table_name="forecasts")
    op.drop_table("forecasts")
    op.drop_table("users")
    op.drop_index(op.f("ix_review_items_state_level"), table_name="review_items")
    op.drop_index(op.f("ix_review_items_grid_id"), table_name="review_items")

    op.drop_table("review_items")
    op.drop_index(op.f("ix_patrol_reports_worker"), table_name="patrol_reports")
    op.drop_index(op.f("ix_patrol_reports_grid_id"), table_name="patrol_reports")

    op.drop_table("patrol_reports")
    op.drop_index(op.f("ix_grids_street_id"), table_name="grids")
    op.drop_index(op.f("ix_grids_community_id"), table_name="grids")

    op.drop_table("grids")
    op.drop_index(op.f("ix_forecast_runs_issue_time"), table_name="forecast_runs")

    op.drop_table("forecast_runs")
    op.drop_index(op.f("ix_audit_log_object_type_object_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_actor"), table_name="audit_log")

    op.drop_table("audit_log")
    op.drop_table("audit_head")

"""Scoring attempts (issue 17, item 5): one row per attempt of the service's scheduled
scoring — start, end, seconds, ``complete`` (with its run) or ``failed`` (with the exception's
class name) — so `/metrics` can report run counts and durations from the database, the same
for every worker process.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scoring_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("issue_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.String(length=200), nullable=True),
        sa.Column("error", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_attempts")),
    )
    op.create_index(
        op.f("ix_scoring_attempts_started_at"), "scoring_attempts", ["started_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_scoring_attempts_started_at"), table_name="scoring_attempts")
    op.drop_table("scoring_attempts")

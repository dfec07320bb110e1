"""Ranked pages as index scans, event counts for grid pages and hit rates, hour profiles for
patrol windows.

* ``forecasts.level_rank`` (blue 0 … red 3, filled for existing rows) and two indexes that
  match the ranked page's order, overall and per target.
* ``event_counts``: events per grid, UTC hour and category known to the last scoring run.
* ``hour_profiles``: a warned grid's 24-hour profile per target, for the patrol time window.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("blue", "yellow", "orange", "red")  # risk.levels.LEVELS, ascending severity


def upgrade() -> None:
    with op.batch_alter_table("forecasts") as batch:
        batch.add_column(sa.Column("level_rank", sa.Integer(), nullable=True))
    cases = " ".join(f"WHEN '{name}' THEN {rank}" for rank, name in enumerate(LEVELS))
    op.execute(f"UPDATE forecasts SET level_rank = CASE level {cases} ELSE -1 END")
    op.create_index(
        "ix_forecasts_ranked",
        "forecasts",
        ["run_id", sa.text("level_rank DESC"), sa.text("prob DESC"), "grid_id", "target"],
    )
    op.create_index(
        "ix_forecasts_ranked_target",
        "forecasts",
        ["run_id", "target", sa.text("level_rank DESC"), sa.text("prob DESC"), "grid_id"],
    )
    op.create_table(
        "event_counts",
        sa.Column("grid_id", sa.String(length=200), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("grid_id", "hour", "category", name=op.f("pk_event_counts")),
    )
    op.create_index(op.f("ix_event_counts_hour"), "event_counts", ["hour"])
    op.create_table(
        "hour_profiles",
        sa.Column("grid_id", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("grid_id", "target", name=op.f("pk_hour_profiles")),
    )


def downgrade() -> None:
    op.drop_table("hour_profiles")
    op.drop_index(op.f("ix_event_counts_hour"), table_name="event_counts")
    op.drop_table("event_counts")
    op.drop_index("ix_forecasts_ranked_target", table_name="forecasts")
    op.drop_index("ix_forecasts_ranked", table_name="forecasts")
    with op.batch_alter_table("forecasts") as batch:
        batch.drop_column("level_rank")

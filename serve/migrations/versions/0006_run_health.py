"""Model health per scoring run (issue 17, item 1): drift against the training window, event
volumes by source, the thresholds passed, and the realised calibration and precision by level
once the run's window has closed.

``run_health``: one row per forecast run (deleted with it).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_health",
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("drift", sa.JSON(), nullable=True),
        sa.Column("volumes", sa.JSON(), nullable=False),
        sa.Column("breaches", sa.JSON(), nullable=False),
        sa.Column("realised", sa.JSON(), nullable=True),
        sa.Column("realised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("realised_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["forecast_runs.run_id"],
            name=op.f("fk_run_health_run_id_forecast_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_health")),
    )


def downgrade() -> None:
    op.drop_table("run_health")

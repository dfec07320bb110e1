"""Grid workers' events and patrol exposure (issue 16, item 2).

* ``events.note``: the note a grid worker adds to an event they report, sealed at rest like
  every free text (``enc:v1:…``, `serve.repo.sealing`); NULL for every other event.
* ``patrol_visits``: one row per patrol report — grid, when, the reporter's role, outcome —
  never a person; unique per report (a resent report adds nothing).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    op.create_table(
        "patrol_visits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.String(length=200), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["patrol_reports.id"],
            name=op.f("fk_patrol_visits_report_id_patrol_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_visits")),
        sa.UniqueConstraint("report_id", name=op.f("uq_patrol_visits_report_id")),
    )
    op.create_index(op.f("ix_patrol_visits_grid_id"), "patrol_visits", ["grid_id"])
    op.create_index(op.f("ix_patrol_visits_visited_at"), "patrol_visits", ["visited_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_patrol_visits_visited_at"), table_name="patrol_visits")
    op.drop_index(op.f("ix_patrol_visits_grid_id"), table_name="patrol_visits")
    op.drop_table("patrol_visits")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("note")

"""The event store: validated events of the data contract, so daily scoring can read them from
the database instead of a file (issue 16, item 1).

``events``: one row per ``event_id`` (occurred, reported, category, grid, source, severity —
never a person), the batch that stored it and when it was received; indexed by grid and by
reporting time (the known-at-``t`` filter).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("grid_id", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=True),
        sa.Column("severity", sa.Integer(), nullable=True),
        sa.Column("batch", sa.String(length=40), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_grid_id"), "events", ["grid_id"])
    op.create_index(op.f("ix_events_reported_at"), "events", ["reported_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_events_reported_at"), table_name="events")
    op.drop_index(op.f("ix_events_grid_id"), table_name="events")
    op.drop_table("events")

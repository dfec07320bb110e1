"""Event counts carry the labels' count (issue 17, item 2): ``label_count`` is the part of
``count`` from sources the labels do not leave out (the model's ``label_exclude_sources``,
by default the system's own patrols), so live accuracy and realised calibration judge a
warning against the same events its model was trained and backtested on. NULL on rows
written before: they counted every source.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("event_counts") as batch:
        batch.add_column(sa.Column("label_count", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event_counts") as batch:
        batch.drop_column("label_count")

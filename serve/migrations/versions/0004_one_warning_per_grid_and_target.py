"""One warning per grid and target: an item that re-raises a decision names it (``follows``);
each revision records the window it forecast (the open item's window moves forward).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("review_items") as batch:
        batch.add_column(sa.Column("follows", sa.String(length=200), nullable=True))
    with op.batch_alter_table("review_revisions") as batch:
        batch.add_column(sa.Column("window_start", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE review_revisions SET window_start = (SELECT window_start FROM review_items "
        "WHERE review_items.item_id = review_revisions.item_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("review_revisions") as batch:
        batch.drop_column("window_start")
    with op.batch_alter_table("review_items") as batch:
        batch.drop_column("follows")

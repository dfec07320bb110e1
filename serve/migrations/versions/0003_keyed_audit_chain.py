"""Keyed audit chain (issue 14, items 1 and 3; docs/adr/014-keyed-audit-chain.md).

* ``audit_log.key_id``: fingerprint of the HMAC key an entry's hash was made with; NULL for
  the entries written before this revision (plain SHA-256, still verifiable).
* ``audit_head.legacy_until``: the last entry written before this revision (its ``last_seq``
  now); every later entry must be keyed.
* On PostgreSQL a trigger refuses UPDATE and DELETE on ``audit_log`` (row triggers do not fire
  on TRUNCATE, which only the database owner's maintenance and the tests use).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGER = "audit_log_append_only"

APPEND_ONLY = f"""
CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % of entry % refused', TG_OP, OLD.seq
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'audit entries are never changed or deleted; append a new entry instead';
END
$$;
CREATE TRIGGER {TRIGGER} BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION {TRIGGER}();
"""


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(
            sa.Column("legacy_until", sa.Integer(), server_default="0", nullable=False)
        )
    op.execute("UPDATE audit_head SET legacy_until = last_seq")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON audit_log")
        op.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}()")
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("legacy_until")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("key_id")

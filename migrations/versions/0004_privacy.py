"""privacy: when an application's personal data was erased (on request or by retention)

Revision ID: 0004
Revises: 0003

Written by hand; see registration/models.py (``Application.anonymised_at``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    # ALTER TABLE … DROP COLUMN on both databases (SQLite since 3.35): no copy of the table,
    # so its partial unique index stays as it is.
    with op.batch_alter_table("application", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("anonymised_at")

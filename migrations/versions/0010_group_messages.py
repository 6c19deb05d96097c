"""messages to one group of a round: the group's name on the sent message

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("round_message") as batch:
        batch.add_column(
            sa.Column("group_name", sa.String(length=100), nullable=False, server_default="")
        )


def downgrade():
    with op.batch_alter_table("round_message") as batch:
        batch.drop_column("group_name")

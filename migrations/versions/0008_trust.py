"""trust: server-side organizer sessions (logout ends them)

Revision ID: 0008
Revises: 0004

Written by hand; see forum/models.py (``OrganizerSession``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "organizer_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organizer_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organizer_id"], ["organizer.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("organizer_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organizer_session_organizer_id"), ["organizer_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("organizer_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organizer_session_organizer_id"))
    op.drop_table("organizer_session")

"""review and admission: unique waitlist positions per round, index for due offers

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.drop_index("ix_application_round_waitlist")
        batch_op.create_index(
            "uq_application_round_waitlist", ["round_id", "waitlist_position"], unique=True
        )
        batch_op.create_index(
            "ix_application_status_offer_deadline", ["status", "offer_deadline"], unique=False
        )


def downgrade():
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.drop_index("ix_application_status_offer_deadline")
        batch_op.drop_index("uq_application_round_waitlist")
        batch_op.create_index(
            "ix_application_round_waitlist", ["round_id", "waitlist_position"], unique=False
        )

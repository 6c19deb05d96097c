"""mail: bounces and complaints (mail_event), the one suppression list, held outbox rows, the
reason a newsletter consent was withdrawn, the English text of an announcement

Revision ID: 0007
Revises: 0006

Written by hand; see forum/models.py (``MailEvent``, ``Suppression``,
``OutboxMessage.suppressed_at``) and forum/newsletter/models.py
(``ConsentRecord.withdrawn_reason``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "mail_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("email_normalized", sa.String(length=254), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("announcement_id", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("ix_mail_event_email", "mail_event", ["email_normalized", "created_at"])
    op.create_index("ix_mail_event_announcement_id", "mail_event", ["announcement_id"])
    op.create_table(
        "suppression",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_normalized", sa.String(length=254), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=254), nullable=False),
        sa.Column("lift_reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email_normalized"),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suppressed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("newsletter_consent", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("withdrawn_reason", sa.Text(), nullable=False, server_default="")
        )
    with op.batch_alter_table("newsletter_announcement", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subject_en", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("body_en", sa.Text(), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("newsletter_announcement", schema=None, recreate="never") as batch:
        batch.drop_column("body_en")
        batch.drop_column("subject_en")
    with op.batch_alter_table("newsletter_consent", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("withdrawn_reason")
    with op.batch_alter_table("outbox_message", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("suppressed_at")
    op.drop_table("suppression")
    op.drop_index("ix_mail_event_announcement_id", table_name="mail_event")
    op.drop_index("ix_mail_event_email", table_name="mail_event")
    op.drop_table("mail_event")

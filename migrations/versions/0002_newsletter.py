"""newsletter: subscribers, consent records, announcements, deliveries

Revision ID: 0002
Revises: 0001

Written by hand (only the newsletter's tables); see forum/newsletter/models.py.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name, nullable=False):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade():
    op.create_table(
        "newsletter_subscriber",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_normalized", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("locale", sa.String(length=5), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        _ts("created_at"),
        _ts("confirmation_sent_at", nullable=True),
        _ts("confirmed_at", nullable=True),
        _ts("unsubscribed_at", nullable=True),
        sa.Column("unsubscribed_via", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
        sa.UniqueConstraint("email_normalized"),
    )
    op.create_index(
        "ix_newsletter_subscriber_status", "newsletter_subscriber", ["status", "id"]
    )

    op.create_table(
        "newsletter_consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("locale", sa.String(length=5), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("round_label", sa.String(length=300), nullable=False),
        sa.Column("wording_version", sa.String(length=40), nullable=False),
        sa.Column("wording_text", sa.Text(), nullable=False),
        sa.Column("privacy_version", sa.String(length=40), nullable=False),
        _ts("requested_at"),
        _ts("confirmed_at", nullable=True),
        _ts("withdrawn_at", nullable=True),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        sa.Column("mail_subject", sa.String(length=300), nullable=False),
        sa.Column("mail_text", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["newsletter_subscriber.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["outbox_message_id"], ["outbox_message.id"], ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_index(
        "ix_newsletter_consent_subscriber_id", "newsletter_consent", ["subscriber_id"]
    )

    op.create_table(
        "newsletter_announcement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("round_label", sa.String(length=300), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_label", sa.String(length=254), nullable=False),
        _ts("created_at"),
        _ts("dispatched_at", nullable=True),
        _ts("finished_at", nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by_id"], ["organizer.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_newsletter_announcement_round_id", "newsletter_announcement", ["round_id"]
    )

    op.create_table(
        "newsletter_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("announcement_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("claimed_until", nullable=True),
        _ts("next_attempt_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _ts("sent_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["announcement_id"], ["newsletter_announcement.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["newsletter_subscriber.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("announcement_id", "subscriber_id", name="uq_newsletter_delivery"),
    )
    op.create_index(
        "ix_newsletter_delivery_status", "newsletter_delivery", ["announcement_id", "status"]
    )
    op.create_index(
        "ix_newsletter_delivery_subscriber_id", "newsletter_delivery", ["subscriber_id"]
    )


def downgrade():
    op.drop_index("ix_newsletter_delivery_subscriber_id", table_name="newsletter_delivery")
    op.drop_index("ix_newsletter_delivery_status", table_name="newsletter_delivery")
    op.drop_table("newsletter_delivery")
    op.drop_index("ix_newsletter_announcement_round_id", table_name="newsletter_announcement")
    op.drop_table("newsletter_announcement")
    op.drop_index("ix_newsletter_consent_subscriber_id", table_name="newsletter_consent")
    op.drop_table("newsletter_consent")
    op.drop_index("ix_newsletter_subscriber_status", table_name="newsletter_subscriber")
    op.drop_table("newsletter_subscriber")

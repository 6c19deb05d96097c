"""formats: invitation-only rounds and invitations, the share_contact consent, groups

Revision ID: 0008
Revises: 0007

Written by hand; see forum/models.py (``Round.invitation_only``,
``Round.invitation_reminder_days``) and registration/models.py (``Invitation``,
``Application.share_contact*``, ``RoundGroup``, ``GroupMember``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    # ALTER TABLE … ADD COLUMN on both databases (no copy of a table); the server defaults fill
    # the existing rows, the models give the defaults of new ones.
    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("invitation_only", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column(
                "invitation_reminder_days", sa.Integer(), nullable=False, server_default="7"
            )
        )

    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("share_contact", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("share_contact_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "share_contact_version", sa.String(length=20), nullable=False, server_default=""
            )
        )

    op.create_table(
        "invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_normalized", sa.String(length=254), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=5), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("body_type", sa.String(length=20), nullable=False),
        sa.Column("locale", sa.String(length=5), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("declined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_index(
        "uq_invitation_round_email", "invitation", ["round_id", "email_normalized"], unique=True
    )

    op.create_table(
        "round_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_round_group_name", "round_group", ["round_id", "name"], unique=True)
    op.create_table(
        "round_group_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["group_id"], ["round_group.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("application_id"),
    )
    op.create_index(
        "ix_round_group_member_group_id", "round_group_member", ["group_id"], unique=False
    )


def downgrade():
    op.drop_index("ix_round_group_member_group_id", table_name="round_group_member")
    op.drop_table("round_group_member")
    op.drop_index("uq_round_group_name", table_name="round_group")
    op.drop_table("round_group")
    op.drop_index("uq_invitation_round_email", table_name="invitation")
    op.drop_table("invitation")
    # ALTER TABLE … DROP COLUMN (SQLite since 3.35): no copy of the table, so the application
    # table's partial unique index stays as it is.
    with op.batch_alter_table("application", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("share_contact_version")
        batch_op.drop_column("share_contact_at")
        batch_op.drop_column("share_contact")
    with op.batch_alter_table("round", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("invitation_reminder_days")
        batch_op.drop_column("invitation_only")

"""selection: review settings per round, reviews, staged decisions, tags and internal notes

Revision ID: 0005
Revises: 0004

Written by hand; see forum/models.py (``Round.review_*``, ``Round.blind_review``) and
registration/selection/models.py.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("round", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("review_criteria", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column(
                "reviewers_per_application", sa.Integer(), nullable=False, server_default="2"
            )
        )
        batch_op.add_column(
            sa.Column("blind_review", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("review_revealed_at", sa.DateTime(timezone=True), nullable=True)
        )

    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("organizer_id", sa.Integer(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("conflict", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organizer_id"], ["organizer.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "application_id", "organizer_id", name="uq_review_application_organizer"
        ),
    )
    op.create_index("ix_review_application_id", "review", ["application_id"])
    op.create_index("ix_review_organizer_id", "review", ["organizer_id"])

    op.create_table(
        "staged_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("organizer_id", sa.Integer(), nullable=True),
        sa.Column("staged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organizer_id"], ["organizer.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("application_id"),
    )
    op.create_index("ix_staged_decision_round_id", "staged_decision", ["round_id"])

    op.create_table(
        "application_tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("application_id", "tag", name="uq_application_tag"),
    )
    op.create_index("ix_application_tag_application_id", "application_tag", ["application_id"])

    op.create_table(
        "application_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=254), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_application_note_application", "application_note", ["application_id", "id"]
    )


def downgrade():
    op.drop_index("ix_application_note_application", table_name="application_note")
    op.drop_table("application_note")
    op.drop_index("ix_application_tag_application_id", table_name="application_tag")
    op.drop_table("application_tag")
    op.drop_index("ix_staged_decision_round_id", table_name="staged_decision")
    op.drop_table("staged_decision")
    op.drop_index("ix_review_organizer_id", table_name="review")
    op.drop_index("ix_review_application_id", table_name="review")
    op.drop_table("review")
    with op.batch_alter_table("round", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("review_revealed_at")
        batch_op.drop_column("blind_review")
        batch_op.drop_column("reviewers_per_application")
        batch_op.drop_column("review_criteria")

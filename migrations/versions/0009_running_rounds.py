"""running a round: meeting identity (key, calendar UID, SEQUENCE, cancelled), reminder days
per round, the record of reminders sent, messages to a round's participants, agenda and
documentation per meeting, attendance

Revision ID: 0009
Revises: 0008

Written by hand; see forum/models.py (``Meeting``, ``Round.reminder_days``) and
registration/models.py (``MeetingReminder``). Existing meetings keep the calendar UID they were
published with (``meeting-<id>-<round slug>``) and get the keys m1, m2, … by position.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminder_days", sa.JSON(), nullable=True))
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("uid", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("sequence", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cancelled", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("agenda", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("documentation", sa.Text(), nullable=True))

    conn = op.get_bind()
    round_t = sa.table("round", sa.column("id", sa.Integer), sa.column("slug", sa.String),
                       sa.column("reminder_days", sa.JSON))
    meeting_t = sa.table(
        "meeting",
        sa.column("id", sa.Integer),
        sa.column("round_id", sa.Integer),
        sa.column("position", sa.Integer),
        sa.column("key", sa.String),
        sa.column("uid", sa.String),
        sa.column("sequence", sa.Integer),
        sa.column("cancelled", sa.Boolean),
        sa.column("agenda", sa.Text),
        sa.column("documentation", sa.Text),
    )
    conn.execute(round_t.update().values(reminder_days=[7, 1]))
    slugs = dict(conn.execute(sa.select(round_t.c.id, round_t.c.slug)).all())
    rows = conn.execute(
        sa.select(meeting_t.c.id, meeting_t.c.round_id).order_by(
            meeting_t.c.round_id, meeting_t.c.position, meeting_t.c.id
        )
    ).all()
    counters: dict[int, int] = {}
    for meeting_id, round_id in rows:
        counters[round_id] = counters.get(round_id, 0) + 1
        conn.execute(
            meeting_t.update()
            .where(meeting_t.c.id == meeting_id)
            .values(
                key=f"m{counters[round_id]}",
                uid=f"meeting-{meeting_id}-{slugs[round_id]}",
                sequence=0,
                cancelled=False,
                agenda="",
                documentation="",
            )
        )

    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.alter_column("reminder_days", existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.alter_column("key", existing_type=sa.String(length=40), nullable=False)
        batch_op.alter_column("uid", existing_type=sa.String(length=100), nullable=False)
        batch_op.alter_column("sequence", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("cancelled", existing_type=sa.Boolean(), nullable=False)
        batch_op.alter_column("agenda", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("documentation", existing_type=sa.Text(), nullable=False)
        batch_op.create_unique_constraint("uq_meeting_round_key", ["round_id", "key"])
        batch_op.create_unique_constraint("uq_meeting_uid", ["uid"])

    op.create_table(
        "meeting_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_id", "application_id", "days", name="uq_meeting_reminder"),
    )
    with op.batch_alter_table("meeting_reminder", schema=None) as batch_op:
        batch_op.create_index(
            "ix_meeting_reminder_application_id", ["application_id"], unique=False
        )


    op.create_table(
        "round_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("audience", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("round_message", schema=None) as batch_op:
        batch_op.create_index("ix_round_message_round_id", ["round_id"], unique=False)

    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=254), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "meeting_id", "application_id", name="uq_attendance_meeting_application"
        ),
    )
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.create_index("ix_attendance_application_id", ["application_id"], unique=False)


def downgrade():
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_index("ix_attendance_application_id")
    op.drop_table("attendance")
    with op.batch_alter_table("round_message", schema=None) as batch_op:
        batch_op.drop_index("ix_round_message_round_id")
    op.drop_table("round_message")
    with op.batch_alter_table("meeting_reminder", schema=None) as batch_op:
        batch_op.drop_index("ix_meeting_reminder_application_id")
    op.drop_table("meeting_reminder")
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_constraint("uq_meeting_uid", type_="unique")
        batch_op.drop_constraint("uq_meeting_round_key", type_="unique")
        batch_op.drop_column("documentation")
        batch_op.drop_column("agenda")
        batch_op.drop_column("cancelled")
        batch_op.drop_column("sequence")
        batch_op.drop_column("uid")
        batch_op.drop_column("key")
    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.drop_column("reminder_days")

"""The handed-in copy of a hand-in kept apart from the draft: what a student handed in (its runs and answers) stays as
it was while they save drafts, and is what the teacher, the gradebook and the leaderboard read.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("hand_ins") as batch:
        batch.add_column(sa.Column("handed_runs", sa.Text(), nullable=True))
        batch.add_column(sa.Column("handed_answers", sa.Text(), nullable=True))
    # until now the draft was what was handed in: a hand-in made before keeps it as its handed-in copy
    op.execute("UPDATE hand_ins SET handed_runs = runs, handed_answers = answers WHERE handed_at IS NOT NULL")


def downgrade():
    with op.batch_alter_table("hand_ins") as batch:
        batch.drop_column("handed_answers")
        batch.drop_column("handed_runs")

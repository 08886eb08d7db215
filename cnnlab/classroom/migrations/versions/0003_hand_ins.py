"""Hand-ins: a student's worksheet of an assignment (chosen runs, answers, handed in or not); which assignment a
request was made for; when an assignment's private ranking was revealed.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("hand_ins", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("assignment_id", sa.Integer(), sa.ForeignKey("assignments.id", ondelete="CASCADE"),
                              nullable=False, index=True),
                    sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id", ondelete="CASCADE"),
                              nullable=False, index=True),
                    sa.Column("runs", sa.Text(), nullable=False),
                    sa.Column("answers", sa.Text(), nullable=False),
                    sa.Column("saved_at", sa.DateTime(), nullable=False),
                    sa.Column("handed_at", sa.DateTime(), nullable=True),
                    sa.Column("times", sa.Integer(), nullable=False),
                    sa.UniqueConstraint("assignment_id", "person_id", name="uq_hand_ins_assignment_person"))
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("assignment_id", sa.Integer(), nullable=True))
        batch.create_index("ix_requests_assignment_id", ["assignment_id"])
        batch.create_foreign_key("fk_requests_assignment_id", "assignments", ["assignment_id"], ["id"],
                                 ondelete="SET NULL")
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("revealed_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("revealed_at")
    with op.batch_alter_table("requests") as batch:
        batch.drop_constraint("fk_requests_assignment_id", type_="foreignkey")
        batch.drop_index("ix_requests_assignment_id")
        batch.drop_column("assignment_id")
    op.drop_table("hand_ins")

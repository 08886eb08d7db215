"""Assignments: work a teacher hands out to a class (its link code, rules, questions, due time).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("assignments", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("class_id", sa.Integer(), sa.ForeignKey("classes.id", ondelete="CASCADE"),
                              nullable=False, index=True),
                    sa.Column("code", sa.String(16), nullable=False, unique=True),
                    sa.Column("title", sa.String(120), nullable=False),
                    sa.Column("report", sa.String(1), nullable=True),
                    sa.Column("rules", sa.Text(), nullable=False),
                    sa.Column("questions", sa.Text(), nullable=False),
                    sa.Column("due_at", sa.DateTime(), nullable=True),
                    sa.Column("created_at", sa.DateTime(), nullable=False),
                    sa.Column("leaderboard", sa.String(16), nullable=False),
                    sa.Column("private_share", sa.Double(), nullable=False))


def downgrade():
    op.drop_table("assignments")

"""People, classes, memberships, browser sessions, requests and sign-in attempts (cnnlab's first tables).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    _people()
    op.create_table("sign_in_attempts", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("tried", sa.String(64), nullable=False, index=True),
                    sa.Column("address", sa.String(64), nullable=False, index=True),
                    sa.Column("at", sa.DateTime(), nullable=False, index=True))
    _classes()
    op.create_table("sessions", sa.Column("id", sa.String(32), primary_key=True),
                    sa.Column("person_id", sa.Integer(), _person(), nullable=False, index=True),
                    sa.Column("secret_digest", sa.String(64), nullable=False),
                    sa.Column("created_at", sa.DateTime(), nullable=False),
                    sa.Column("expires_at", sa.DateTime(), nullable=False),
                    sa.Column("revoked_at", sa.DateTime(), nullable=True),
                    sa.Column("ticket_digest", sa.String(64), nullable=True, unique=True),
                    sa.Column("ticket_expires_at", sa.DateTime(), nullable=True))
    op.create_table("memberships", sa.Column("person_id", sa.Integer(), _person(), primary_key=True),
                    sa.Column("class_id", sa.Integer(), _class("CASCADE"), primary_key=True),
                    sa.Column("nickname", sa.String(64), nullable=False),
                    sa.Column("nickname_key", sa.String(64), nullable=False),
                    sa.Column("joined_at", sa.DateTime(), nullable=False),
                    sa.UniqueConstraint("class_id", "nickname_key", name="uq_memberships_class_nickname"))
    _requests()


def _person():
    return sa.ForeignKey("people.id", ondelete="CASCADE")


def _class(ondelete):
    return sa.ForeignKey("classes.id", ondelete=ondelete)


def _people():
    op.create_table("people", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("role", sa.String(16), nullable=False),
                    sa.Column("name", sa.String(64), nullable=False),
                    sa.Column("teacher_name", sa.String(64), nullable=True, unique=True),
                    sa.Column("password_hash", sa.String(256), nullable=True),
                    sa.Column("code_digest", sa.String(64), nullable=True, unique=True),
                    sa.Column("oidc_subject", sa.String(256), nullable=True, unique=True),
                    sa.Column("language", sa.String(8), nullable=True),
                    sa.Column("created_at", sa.DateTime(), nullable=False))


def _classes():
    op.create_table("classes", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("name", sa.String(80), nullable=False, unique=True),
                    sa.Column("term", sa.String(40), nullable=False),
                    sa.Column("join_code", sa.String(16), nullable=False, unique=True),
                    sa.Column("teacher_id", sa.Integer(), _person(), nullable=False, index=True),
                    sa.Column("minutes_per_day", sa.Integer(), nullable=True),
                    sa.Column("open", sa.Boolean(), nullable=False),
                    sa.Column("created_at", sa.DateTime(), nullable=False))


def _requests():
    op.create_table("requests", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("person_id", sa.Integer(), _person(), nullable=False, index=True),
                    sa.Column("class_id", sa.Integer(), _class("SET NULL"), nullable=True, index=True),
                    sa.Column("run_id", sa.String(64), nullable=False, index=True),
                    sa.Column("dataset", sa.String(80), nullable=False),
                    sa.Column("settings", sa.Text(), nullable=False),
                    sa.Column("note", sa.Text(), nullable=False),
                    sa.Column("asked_at", sa.DateTime(), nullable=False, index=True),
                    sa.Column("seconds", sa.Double(), nullable=False))


def downgrade():
    for table in ("requests", "memberships", "sessions", "classes", "sign_in_attempts", "people"):
        op.drop_table(table)

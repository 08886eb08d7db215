"""Tags on a request: a student labels any of their requests ("dropout", "seed study") besides its note; they show
with the note in Compare, in the lab report and in the teacher's view of that student.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("tags", sa.Text(), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("tags")

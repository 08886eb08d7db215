"""Alembic's entry for cnnlab's migrations: it runs on the connection cnnlab.classroom.database hands it."""

from alembic import context

from cnnlab.classroom import schema

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=schema.Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

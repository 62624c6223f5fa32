"""Alembic environment: migrations run on the connection the platform hands over (never from alembic.ini)."""

from alembic import context

from validation.schema import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the platform always passes its connection
    raise RuntimeError("clinval migrations run through validation.storage.migrate(), not the alembic CLI")
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

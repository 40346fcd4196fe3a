"""Alembic's environment for the store: migrations run on the connection `movierec.store.schema`
hands over (inside its transaction and lock), against the metadata of `movierec.store.tables`."""

from __future__ import annotations

from alembic import context

from movierec.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the store's migrations run through `movierec db upgrade`, not the alembic command"
    )
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

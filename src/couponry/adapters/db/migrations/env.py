"""Alembic environment: runs against the connection handed over by couponry.adapters.db.migrate."""

from alembic import context

from couponry.adapters.db.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` run by hand: take the URL from the settings
    from couponry.adapters.db.engine import make_engine
    from couponry.settings import get_settings

    engine = make_engine(get_settings().database_url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()

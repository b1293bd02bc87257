"""Alembic environment of the suite's store.

The store runs Alembic in-process and hands over its own connection (already inside the
transaction that holds the migration lock) as ``config.attributes["connection"]``; that is
also what makes in-memory SQLite work. Without one (a developer calling ``alembic``
commands through :func:`core.store.alembic_config` with ``sqlalchemy.url`` set) it connects
itself.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from core.store.schema import Base

config = context.config
target_metadata = Base.metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate compares core tables only: plugin tables belong to plugin branches."""
    return type_ != "table" or name in target_metadata.tables


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        include_name=include_name,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
    else:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
        try:
            with engine.begin() as conn:
                run_on(conn)
        finally:
            engine.dispose()

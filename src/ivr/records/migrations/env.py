"""Alembic environment, driven from code (``ivr db upgrade``): no ``alembic.ini`` needed.

The caller passes an open connection in ``config.attributes["connection"]``; the
``alembic`` command line works too, given ``sqlalchemy.url`` in its configuration.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from ivr.records.db import all_metadata

target_metadata = all_metadata()


def run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url given to the migrations")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            run(conn)
    finally:
        engine.dispose()


main()

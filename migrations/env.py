"""Alembic environment: the URL comes from Candor's config; SQLite migrates in batch mode."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from app.db import make_engine
from app.models import Base
from app.search.ddl import include_name

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return url
    import config as candor_config  # run from the alembic CLI: read the same environment as the app
    from app.migrate import MIGRATIONS

    return candor_config.load(MIGRATIONS.parent / "instance")["DATABASE_URL"]


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=_url().startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = config.attributes.get("connection") or make_engine(_url())
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration rebuilds tables; with foreign keys on, child rows would go with the parent.
            connection.execute(text("PRAGMA foreign_keys=OFF"))
            connection.commit()
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=sqlite,
                          compare_type=True, include_name=include_name)
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            connection.execute(text("PRAGMA foreign_keys=ON"))
            connection.commit()
    if config.attributes.get("connection") is None:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

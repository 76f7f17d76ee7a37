"""Alembic, driven from Python with the app's own database URL. No Flask here."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> None:
    command.current(alembic_config(database_url), verbose=False)


def heads() -> frozenset[str]:
    """The revisions at the head of the migration scripts (read from the files, not the database)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config("")).get_heads())


def applied(connection: Connection) -> frozenset[str]:
    """The revisions the database says it is at (empty before the first migration)."""
    from sqlalchemy import text

    try:
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    except Exception:  # noqa: BLE001 - no version table: nothing was migrated
        return frozenset()
    return frozenset(rows)

"""Alembic, driven from Python with the app's own database URL. No Flask here.

Alembic (about 11 MB of a worker's memory) is imported by the commands that migrate, never by a worker
that only serves: the health check's ``heads`` reads the scripts' revision ids without it.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> None:
    from alembic import command

    command.current(alembic_config(database_url), verbose=False)


def heads() -> frozenset[str]:
    """The revisions at the head of the migration scripts (read from the files, not the database): those
    no script names as its ``down_revision``. The module-level assignments are read with ``ast``, so a
    worker's health check does not load Alembic; tests/test_migrations.py compares with Alembic's own."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for node in ast.parse(script.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value_node = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:  # revision: str = "0029"
                target, value_node = node.target, node.value
            else:
                continue
            if not isinstance(target, ast.Name) or target.id not in ("revision", "down_revision"):
                continue
            value = ast.literal_eval(value_node)
            found = {value} if isinstance(value, str) else set(value or ())
            (revisions if target.id == "revision" else parents).update(found)
    return frozenset(revisions - parents)


def applied(connection: Connection) -> frozenset[str]:
    """The revisions the database says it is at (empty before the first migration)."""
    from sqlalchemy import text

    try:
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    except Exception:  # noqa: BLE001 - no version table: nothing was migrated
        return frozenset()
    return frozenset(rows)

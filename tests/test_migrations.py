"""Migrations: upgrading an empty database gives exactly the models' schema, and downgrade works."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app import migrate
from app.db import make_engine
from app.models import Base


@pytest.fixture
def empty_database_url(database_url):
    """A fresh database taken back to empty, whichever backend."""
    migrate.downgrade(database_url, "base")
    return database_url


def test_upgrade_from_empty_gives_exactly_the_models_schema(empty_database_url):
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_to_base_removes_every_table(empty_database_url):
    migrate.upgrade(empty_database_url)
    migrate.downgrade(empty_database_url, "base")
    engine = make_engine(empty_database_url)
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    engine.dispose()
    assert tables == set()


def test_upgrade_after_downgrade_works_again(empty_database_url):
    migrate.upgrade(empty_database_url)
    migrate.downgrade(empty_database_url, "base")
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    assert "post_revisions" in inspect(engine).get_table_names()
    engine.dispose()

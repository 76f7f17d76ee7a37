"""Migrations: upgrading an empty database gives exactly the models' schema, and downgrade works."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app import migrate
from app.db import make_engine
from app.models import Base
from app.search.ddl import include_name


@pytest.fixture
def empty_database_url(database_url):
    """A fresh database taken back to empty, whichever backend."""
    migrate.downgrade(database_url, "base")
    return database_url


def test_upgrade_from_empty_gives_exactly_the_models_schema(empty_database_url):
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name}),
            Base.metadata,
        )
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


def test_0006_splits_status_into_two_axes_and_keeps_only_public_slugs(empty_database_url):
    """Data from 0005 comes through: states split, drafts lose their slug, scheduled goes back to review."""
    from sqlalchemy import text

    migrate.upgrade(empty_database_url, "0005")
    engine = make_engine(empty_database_url)
    now = "2026-11-30 10:00:00"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, name, password_hash, title, department, is_active, "
                "created_at) VALUES (1, 'a@x.example', 'A', 'h', 't', 'd', true, :now)"
            ),
            {"now": now},
        )
        for pid, slug, status in (
            (1, "live-one", "published"),
            (2, "draft-title", "draft"),
            (3, "soon", "scheduled"),
            (4, "gone", "retracted"),
        ):
            conn.execute(
                text(
                    "INSERT INTO posts (id, slug, status, author_id, created_at, updated_at) "
                    "VALUES (:id, :slug, :status, 1, :now, :now)"
                ),
                {"id": pid, "slug": slug, "status": status, "now": now},
            )
            conn.execute(
                text(
                    'INSERT INTO post_revisions (id, post_id, number, title, body, "references", html, '
                    "author_id, created_at, kind, note, personal_view) VALUES (:id, :id, 1, 'T', 'b', "
                    "'[]', '<p>b</p>', 1, :now, 'original', '', false)"
                ),
                {"id": pid, "now": now},
            )
            published = pid in (1, 4)
            conn.execute(
                text(
                    "UPDATE posts SET current_revision_id = :id, published_revision_id = :pub, "
                    "first_published_at = :fp WHERE id = :id"
                ),
                {"id": pid, "pub": pid if published else None, "fp": now if published else None},
            )
        conn.execute(
            text(
                "INSERT INTO reviews (post_id, revision_number, submitted_by_id, submitted_at, "
                "touches_interests, interest_statement, state, closed_by_id, closed_at, note) "
                "VALUES (3, 1, 1, :now, false, '', 'approved', 1, :now, '')"
            ),
            {"now": now},
        )
    migrate.upgrade(empty_database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, slug, publication_state, review_state FROM posts ORDER BY id")
        ).all()
        slugs = conn.execute(text("SELECT slug FROM post_slugs ORDER BY slug")).scalars().all()
        reopened = conn.execute(text("SELECT state FROM reviews WHERE post_id = 3")).scalar_one()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        (1, "live-one", "live", "none"),
        (2, None, "never_published", "none"),
        (3, None, "never_published", "in_review"),
        (4, "gone", "retracted", "none"),
    ]
    assert slugs == ["gone", "live-one"] and reopened == "open"

"""Full-text search: ``search_documents`` (one row per public post or page) and its index.

PostgreSQL: a GIN index over the weighted ``tsvector`` expression that app.search.engine queries with
(title A, topics B, authors C, text D). SQLite: an FTS5 external-content table ``search_fts`` over
the same columns, kept in step with ``search_documents`` by triggers. Existing public posts are indexed
by this migration; ``flask --app wsgi search reindex`` rebuilds every document.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 17:25:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from app.posts.rendering import plain_text
from app.search.ddl import create_index_ddl, drop_index_ddl


def _clean(value: str) -> str:
    return value.replace("\ue000", " ").replace("\ue001", " ")

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('search_documents',
    sa.Column('post_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('topics', sa.Text(), nullable=False),
    sa.Column('authors', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_search_documents_post_id_posts')),
    sa.PrimaryKeyConstraint('post_id', name=op.f('pk_search_documents'))
    )
    for statement in create_index_ddl(op.get_bind().dialect.name):
        op.execute(statement)
    # Index what is public already (no post had topics before 0014). The triggers fill FTS5 on SQLite.
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT p.id, r.title, r.html, u.name FROM posts p "
        "JOIN post_revisions r ON r.id = p.published_revision_id JOIN users u ON u.id = p.author_id"
    )).all()
    now = datetime.now(UTC)
    for post_id, title, html, author in rows:
        bind.execute(
            sa.text("INSERT INTO search_documents (post_id, title, body, topics, authors, updated_at) "
                    "VALUES (:id, :title, :body, '', :author, :now)"),
            {"id": post_id, "title": _clean(title), "body": _clean(plain_text(html)), "author": _clean(author),
             "now": now},
        )


def downgrade() -> None:
    for statement in drop_index_ddl(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table('search_documents')

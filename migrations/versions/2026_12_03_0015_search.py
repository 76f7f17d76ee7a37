"""Full-text search: ``search_documents`` (one row per public post or page) and its index.

PostgreSQL: a GIN index over the weighted ``tsvector`` expression that app.search.engine queries with
(title A, topics B, authors C, text D). SQLite: an FTS5 external-content table ``search_fts`` over
the same columns, kept in step with ``search_documents`` by triggers. Existing public posts are indexed
by the application (``flask --app wsgi search reindex``; ``make run`` and the demo do it).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 17:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.search.ddl import create_index_ddl, drop_index_ddl

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


def downgrade() -> None:
    for statement in drop_index_ddl(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table('search_documents')

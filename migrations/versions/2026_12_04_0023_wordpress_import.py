"""WordPress import: the import's keys, old addresses, topic and page parents; publications ``via 'import'``.

- ``wordpress_items``: (site, kind, WordPress key) -> the Candor row it became; unique, so a second run
  of the same export finds everything and writes nothing.
- ``legacy_paths``: old WordPress addresses (a path, ``?p=ID``, ``?page_id=ID``) answering 301.
- ``topic_parents``, ``page_parents``: the hierarchy WordPress had.
- ``publications.via`` may also be ``import``: a revision published on WordPress, brought in by the
  import (its system actor is the approver on record; four eyes still hold: it wrote nothing). Batch
  mode on SQLite rebuilds ``publications``, which would drop its append-only triggers, so they are
  dropped first and made again after, as in 0006.

Revision ID: 0023
Revises: 0016
Create Date: 2026-12-04 15:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import append_only_ddl, drop_append_only_ddl

revision = '0023'
down_revision = '0016'
branch_labels = None
depends_on = None

VIA_BEFORE = "via IN ('review', 'editor_direct')"
VIA_AFTER = "via IN ('review', 'editor_direct', 'import')"


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def _dialect() -> str:
    return op.get_bind().dialect.name


def _set_via_check(check: str) -> None:
    _run(drop_append_only_ddl(_dialect(), 'publications'))
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_publications_via_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_publications_via_known'), check)
    _run(append_only_ddl(_dialect(), 'publications'))


def upgrade() -> None:
    op.create_table('wordpress_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site', sa.String(length=500), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('wp_key', sa.String(length=500), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('author', 'term', 'post', 'comment', 'attachment')",
                       name=op.f('ck_wordpress_items_kind_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wordpress_items')),
    sa.UniqueConstraint('site', 'kind', 'wp_key', name='uq_wordpress_items_site_kind_key'),
    )
    op.create_index('ix_wordpress_items_kind_target', 'wordpress_items', ['kind', 'target_id'])
    op.create_table('legacy_paths',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=2000), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_legacy_paths_post_id_posts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legacy_paths')),
    sa.UniqueConstraint('path', name=op.f('uq_legacy_paths_path')),
    )
    op.create_index(op.f('ix_legacy_paths_post_id'), 'legacy_paths', ['post_id'])
    op.create_table('topic_parents',
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('topic_id <> parent_id', name=op.f('ck_topic_parents_not_own_parent')),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_topic_parents_topic_id_topics')),
    sa.ForeignKeyConstraint(['parent_id'], ['topics.id'], name=op.f('fk_topic_parents_parent_id_topics')),
    sa.PrimaryKeyConstraint('topic_id', name=op.f('pk_topic_parents')),
    )
    op.create_index(op.f('ix_topic_parents_parent_id'), 'topic_parents', ['parent_id'])
    op.create_table('page_parents',
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('post_id <> parent_id', name=op.f('ck_page_parents_not_own_parent')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_page_parents_post_id_posts')),
    sa.ForeignKeyConstraint(['parent_id'], ['posts.id'], name=op.f('fk_page_parents_parent_id_posts')),
    sa.PrimaryKeyConstraint('post_id', name=op.f('pk_page_parents')),
    )
    op.create_index(op.f('ix_page_parents_parent_id'), 'page_parents', ['parent_id'])
    _set_via_check(VIA_AFTER)


def downgrade() -> None:
    _set_via_check(VIA_BEFORE)
    op.drop_index(op.f('ix_page_parents_parent_id'), table_name='page_parents')
    op.drop_table('page_parents')
    op.drop_index(op.f('ix_topic_parents_parent_id'), table_name='topic_parents')
    op.drop_table('topic_parents')
    op.drop_index(op.f('ix_legacy_paths_post_id'), table_name='legacy_paths')
    op.drop_table('legacy_paths')
    op.drop_index('ix_wordpress_items_kind_target', table_name='wordpress_items')
    op.drop_table('wordpress_items')

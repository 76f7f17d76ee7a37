"""Pages, topics and closing comments.

- ``posts.type``: ``post`` (the default, every existing row) or ``page``; pages reuse revisions, review,
  gates and corrections, and are served at /pages/<slug>.
- ``topics`` (editor-managed; the slug never changes) and ``revision_topics`` (append-only, like the
  revision it belongs to): readers see the published revision's topics only.
- ``comment_closures``: an editor closed a post's comments (the row goes when they reopen them).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import append_only_ddl, drop_append_only_ddl

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


TYPE_CHECK = "type IN ('post', 'page')"


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # A column constraint in place, not a batch rebuild of posts: rebuilding would trip the triggers
        # of migration 0008 that name posts.
        op.execute("ALTER TABLE posts ADD COLUMN type VARCHAR(8) DEFAULT 'post' NOT NULL "
                   f"CONSTRAINT ck_posts_type_known CHECK ({TYPE_CHECK})")
    else:
        op.add_column('posts', sa.Column('type', sa.String(length=8), server_default='post', nullable=False))
        op.create_check_constraint(op.f('ck_posts_type_known'), 'posts', TYPE_CHECK)

    op.create_table('topics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("name <> ''", name=op.f('ck_topics_name_given')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_topics_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topics')),
    sa.UniqueConstraint('name', name=op.f('uq_topics_name')),
    sa.UniqueConstraint('slug', name=op.f('uq_topics_slug'))
    )
    op.create_table('revision_topics',
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['revision_id'], ['post_revisions.id'], name=op.f('fk_revision_topics_revision_id_post_revisions')),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_revision_topics_topic_id_topics')),
    sa.PrimaryKeyConstraint('revision_id', 'topic_id', name=op.f('pk_revision_topics'))
    )
    with op.batch_alter_table('revision_topics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revision_topics_topic_id'), ['topic_id'], unique=False)
    _run(append_only_ddl(op.get_bind().dialect.name, 'revision_topics'))

    op.create_table('comment_closures',
    sa.Column('post_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('closed_by_id', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_comment_closures_closed_by_id_users')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_comment_closures_post_id_posts')),
    sa.PrimaryKeyConstraint('post_id', name=op.f('pk_comment_closures'))
    )


def downgrade() -> None:
    op.drop_table('comment_closures')
    _run(drop_append_only_ddl(op.get_bind().dialect.name, 'revision_topics'))
    with op.batch_alter_table('revision_topics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revision_topics_topic_id'))
    op.drop_table('revision_topics')
    op.drop_table('topics')
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("ALTER TABLE posts DROP COLUMN type")
    else:
        op.drop_constraint(op.f('ck_posts_type_known'), 'posts', type_='check')
        op.drop_column('posts', 'type')

"""Bounded pages at any size: kept counts and the indexes keyset pagination needs.

- ``comments.thread_id`` (a reply's top-level comment) lets a post page fetch 50 threads and a bounded
  number of replies each from an index; filled here for every existing reply.
- ``posts.comment_count`` and ``comment_tallies`` (counts by status, held ones also by reason) are kept by
  app.comments.states in the flush that changes a status; filled here by counting once.
- Indexes for every list's keyset order (app/cursors.py): each list's equality columns, then its
  (timestamp, id). Partial ones for the post's top-level threads, the held queue, the needs-reply queue and
  public posts. Chosen by EXPLAIN at scale (tests/test_scale_queries.py, bench/bench_scale.py).

Only indexes and added columns: no table is rebuilt, so the append-only triggers stay as they are.

Revision ID: 0020
Revises: 0022
Create Date: 2026-12-03 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0022'
branch_labels = None
depends_on = None

_PARTIAL = {
    'ix_comments_post_roots': (
        'comments', ['post_id', 'created_at', 'id'], "parent_id IS NULL AND status = 'published'"
    ),
    'ix_comments_held': ('comments', ['created_at', 'id'], "status = 'held'"),
    'ix_comments_waiting_reply': (
        'comments',
        ['created_at', 'id'],
        "status = 'published' AND needs_reply AND staff_user_id IS NULL",
    ),
    'ix_posts_public_first_published': ('posts', ['first_published_at', 'id'], 'published_revision_id IS NOT NULL'),
}

# name: (table, old columns, new columns)
_WIDENED = {
    'ix_comments_post_status_created': ('comments', ['post_id', 'status', 'created_at'], ['post_id', 'status', 'created_at', 'id']),
    'ix_comments_status_created': ('comments', ['status', 'created_at'], ['status', 'created_at', 'id']),
    'ix_moderation_decisions_at': ('moderation_decisions', ['at'], ['at', 'id']),
    'ix_audit_entries_post_at': ('audit_entries', ['post_id', 'at'], ['post_id', 'at', 'id']),
}


def upgrade() -> None:
    op.add_column('comments', sa.Column('thread_id', sa.Integer(), nullable=True))
    op.add_column('posts', sa.Column('comment_count', sa.Integer(), server_default='0', nullable=False))
    op.create_table(
        'comment_tallies',
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=100), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.CheckConstraint('n >= 0', name=op.f('ck_comment_tallies_not_negative')),
        sa.PrimaryKeyConstraint('status', 'reason', name=op.f('pk_comment_tallies')),
    )
    for name, (table, old, new) in _WIDENED.items():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, new)
    op.drop_index('ix_audit_entries_at', table_name='audit_entries')
    op.create_index('ix_audit_entries_at_id', 'audit_entries', ['at', 'id'])
    op.create_index('ix_comments_thread_status_created', 'comments', ['thread_id', 'status', 'created_at', 'id'])
    op.create_index('ix_publications_published_id', 'publications', ['published_at', 'id'])
    op.create_index('ix_retractions_at_id', 'retractions', ['at', 'id'])
    for name, (table, columns, where) in _PARTIAL.items():
        op.create_index(name, table, columns, postgresql_where=sa.text(where), sqlite_where=sa.text(where))
    _fill()


def _fill() -> None:
    """Thread ids by walking up from each reply; counts by counting once."""
    op.execute(
        """
        WITH RECURSIVE up(id, root) AS (
            SELECT id, id FROM comments WHERE parent_id IS NULL
            UNION ALL
            SELECT c.id, up.root FROM comments c JOIN up ON c.parent_id = up.id
        )
        UPDATE comments SET thread_id = (SELECT root FROM up WHERE up.id = comments.id)
        WHERE parent_id IS NOT NULL
        """
    )
    op.execute(
        "UPDATE posts SET comment_count = "
        "(SELECT count(*) FROM comments WHERE comments.post_id = posts.id AND comments.status = 'published')"
    )
    bind = op.get_bind()
    tallies: dict[tuple[str, str], int] = {}
    for status, n in bind.execute(sa.text('SELECT status, count(*) FROM comments GROUP BY status')):
        tallies[(status, '')] = n
    comments = sa.table('comments', sa.column('status', sa.String), sa.column('reasons', sa.JSON))
    for (reasons,) in bind.execute(sa.select(comments.c.reasons).where(comments.c.status == 'held')):
        for reason in dict.fromkeys(str(r)[:100] for r in reasons or ()):
            tallies[('held', reason)] = tallies.get(('held', reason), 0) + 1
    if tallies:
        op.bulk_insert(
            sa.table('comment_tallies', sa.column('status'), sa.column('reason'), sa.column('n')),
            [{'status': s, 'reason': r, 'n': n} for (s, r), n in sorted(tallies.items())],
        )


def downgrade() -> None:
    for name, (table, _, _) in _PARTIAL.items():
        op.drop_index(name, table_name=table)
    op.drop_index('ix_comments_thread_status_created', table_name='comments')
    op.drop_index('ix_publications_published_id', table_name='publications')
    op.drop_index('ix_retractions_at_id', table_name='retractions')
    op.drop_index('ix_audit_entries_at_id', table_name='audit_entries')
    op.create_index('ix_audit_entries_at', 'audit_entries', ['at'])
    for name, (table, old, _) in _WIDENED.items():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, old)
    op.drop_table('comment_tallies')
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): no table is rebuilt, so no trigger is lost.
    op.drop_column('posts', 'comment_count')
    op.drop_column('comments', 'thread_id')

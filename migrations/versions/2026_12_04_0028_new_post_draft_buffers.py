"""``draft_buffers`` also holds a writer's autosaved text of a post not yet saved: ``post_id`` NULL, at
most one such buffer per writer (a partial unique index; the unique ``(post_id, user_id)`` lets NULLs by).

Revision ID: 0028
Revises: 0026
Create Date: 2026-12-04 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('draft_buffers', schema=None) as batch_op:
        batch_op.alter_column('post_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(
            'uq_draft_buffers_one_new_post_per_user',
            ['user_id'],
            unique=True,
            sqlite_where=sa.text('post_id IS NULL'),
            postgresql_where=sa.text('post_id IS NULL'),
        )


def downgrade() -> None:
    op.execute("DELETE FROM draft_buffers WHERE post_id IS NULL")
    with op.batch_alter_table('draft_buffers', schema=None) as batch_op:
        batch_op.drop_index('uq_draft_buffers_one_new_post_per_user')
        batch_op.alter_column('post_id', existing_type=sa.Integer(), nullable=False)

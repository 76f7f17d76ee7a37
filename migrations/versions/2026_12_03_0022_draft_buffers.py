"""``draft_buffers``: the editor's autosaved working copy, one per post and writer (not history).

Revision ID: 0022
Revises: 0018
Create Date: 2026-12-03 17:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'draft_buffers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('post_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('base_revision', sa.Integer(), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('references', sa.Text(), nullable=False),
        sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_draft_buffers_post_id_posts')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_draft_buffers_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_draft_buffers')),
        sa.UniqueConstraint('post_id', 'user_id', name=op.f('uq_draft_buffers_post_id')),
    )
    with op.batch_alter_table('draft_buffers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_draft_buffers_post_id'), ['post_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('draft_buffers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_draft_buffers_post_id'))
    op.drop_table('draft_buffers')

"""Link checks: the latest status of each link in each published post, for `flask links check`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 19:37:04.160173
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('link_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_link_checks_post_id_posts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_checks')),
    sa.UniqueConstraint('post_id', 'url', name='uq_link_checks_post_url')
    )
    with op.batch_alter_table('link_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_checks_post_id'), ['post_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('link_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_checks_post_id'))

    op.drop_table('link_checks')

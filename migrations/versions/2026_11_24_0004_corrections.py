"""Corrections: reader error reports, and cached diffs between revisions (insert-only, like revisions).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 19:45:55.152974
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import append_only_ddl, drop_append_only_ddl


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('error_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('what', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('reporter_ip', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.Column('correction_revision', sa.Integer(), nullable=True),
    sa.Column('corrected_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('open', 'accepted', 'declined')", name=op.f('ck_error_reports_state_known')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_error_reports_decided_by_id_users')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_error_reports_post_id_posts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_error_reports'))
    )
    with op.batch_alter_table('error_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_error_reports_post_id'), ['post_id'], unique=False)

    op.create_table('revision_diffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('from_revision_id', sa.Integer(), nullable=False),
    sa.Column('to_revision_id', sa.Integer(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['from_revision_id'], ['post_revisions.id'], name=op.f('fk_revision_diffs_from_revision_id_post_revisions')),
    sa.ForeignKeyConstraint(['to_revision_id'], ['post_revisions.id'], name=op.f('fk_revision_diffs_to_revision_id_post_revisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revision_diffs')),
    sa.UniqueConstraint('from_revision_id', 'to_revision_id', name='uq_revision_diffs_pair')
    )
    for statement in append_only_ddl(op.get_bind().dialect.name, 'revision_diffs'):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_append_only_ddl(op.get_bind().dialect.name, 'revision_diffs'):
        op.execute(statement)
    op.drop_table('revision_diffs')
    with op.batch_alter_table('error_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_error_reports_post_id'))

    op.drop_table('error_reports')

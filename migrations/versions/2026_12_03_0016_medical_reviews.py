"""Health information: ``post_health_marks`` (a post's flag, as history) and ``medical_reviews``.

Both tables are append-only (triggers on SQLite and PostgreSQL alike): a post's flag is its newest mark,
and its "medically reviewed by" is its newest review; earlier ones stay as the record.

Revision ID: 0016
Revises: 0020
Create Date: 2026-12-03 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import append_only_ddl, drop_append_only_ddl

revision = '0016'
down_revision = '0020'
branch_labels = None
depends_on = None

APPEND_ONLY = ('post_health_marks', 'medical_reviews')


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        'post_health_marks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('post_id', sa.Integer(), nullable=False),
        sa.Column('health', sa.Boolean(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_post_health_marks_actor_id_users')),
        sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_post_health_marks_post_id_posts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_post_health_marks')),
    )
    with op.batch_alter_table('post_health_marks', schema=None) as batch_op:
        batch_op.create_index('ix_post_health_marks_post_at', ['post_id', 'id'], unique=False)
    op.create_table(
        'medical_reviews',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('post_id', sa.Integer(), nullable=False),
        sa.Column('reviewer_id', sa.Integer(), nullable=False),
        sa.Column('reviewed_on', sa.Date(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('due_on > reviewed_on', name=op.f('ck_medical_reviews_due_after_review')),
        sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_medical_reviews_post_id_posts')),
        sa.ForeignKeyConstraint(
            ['recorded_by_id'], ['users.id'], name=op.f('fk_medical_reviews_recorded_by_id_users')
        ),
        sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_medical_reviews_reviewer_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_medical_reviews')),
    )
    with op.batch_alter_table('medical_reviews', schema=None) as batch_op:
        batch_op.create_index('ix_medical_reviews_post_id', ['post_id', 'id'], unique=False)
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        _run(append_only_ddl(dialect, table))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        _run(drop_append_only_ddl(dialect, table))
    with op.batch_alter_table('medical_reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_medical_reviews_post_id')
    op.drop_table('medical_reviews')
    with op.batch_alter_table('post_health_marks', schema=None) as batch_op:
        batch_op.drop_index('ix_post_health_marks_post_at')
    op.drop_table('post_health_marks')

"""Run-time settings (``settings``, with the append-only ``setting_changes``) and job period claims
(``job_runs``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import append_only_ddl, drop_append_only_ddl

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

APPEND_ONLY = ('setting_changes',)


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        'settings',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('value', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint("key <> ''", name=op.f('ck_settings_key_not_empty')),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_settings_updated_by_id_users')),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_settings')),
    )
    op.create_table(
        'setting_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('old_value', sa.JSON(), nullable=True),
        sa.Column('new_value', sa.JSON(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_setting_changes_actor_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_setting_changes')),
    )
    with op.batch_alter_table('setting_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_setting_changes_key'), ['key'], unique=False)
    op.create_table(
        'job_runs',
        sa.Column('job', sa.String(length=64), nullable=False),
        sa.Column('period', sa.String(length=32), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("job <> '' AND period <> ''", name=op.f('ck_job_runs_named')),
        sa.PrimaryKeyConstraint('job', 'period', name=op.f('pk_job_runs')),
    )
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        _run(append_only_ddl(dialect, table))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        _run(drop_append_only_ddl(dialect, table))
    op.drop_table('job_runs')
    with op.batch_alter_table('setting_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_setting_changes_key'))
    op.drop_table('setting_changes')
    op.drop_table('settings')

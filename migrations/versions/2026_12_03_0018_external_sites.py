"""The ``compliance`` role, and the append-only external sites registry with its two-key decisions.

Revision ID: 0018
Revises: 0019
Create Date: 2026-12-03 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import append_only_ddl, drop_append_only_ddl

revision = '0018'
down_revision = '0019'
branch_labels = None
depends_on = None

APPEND_ONLY = ('external_sites', 'external_site_decisions')
ROLES_BEFORE = "role IN ('author', 'editor', 'moderator', 'admin')"
ROLES_AFTER = "role IN ('author', 'editor', 'moderator', 'compliance', 'admin')"


GATES_BEFORE = "gate IN ('identity', 'disclosure', 'references', 'direct_links', 'privacy')"
GATES_AFTER = (
    "gate IN ('identity', 'disclosure', 'references', 'direct_links', 'privacy', 'media_alt', 'media_consent', "
    "'external_sites')"
)


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def _check(table: str, name: str, check: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(name), type_='check')
        batch_op.create_check_constraint(op.f(name), check)


def _roles(check: str) -> None:
    _check('user_roles', 'ck_user_roles_role_known', check)


def upgrade() -> None:
    _roles(ROLES_AFTER)
    _check('gate_overrides', 'ck_gate_overrides_gate_known', GATES_AFTER)
    op.create_table(
        'external_sites',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('hosts', sa.Text(), nullable=False),
        sa.Column('embed_template', sa.Text(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('proposed_by_id', sa.Integer(), nullable=False),
        sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('video', 'photo', 'maps', 'social')", name=op.f('ck_external_sites_kind_known')),
        sa.CheckConstraint("name <> ''", name=op.f('ck_external_sites_named')),
        sa.CheckConstraint("hosts <> ''", name=op.f('ck_external_sites_has_hosts')),
        sa.CheckConstraint("note <> ''", name=op.f('ck_external_sites_noted')),
        sa.ForeignKeyConstraint(['proposed_by_id'], ['users.id'], name=op.f('fk_external_sites_proposed_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_external_sites')),
        sa.UniqueConstraint('name', name=op.f('uq_external_sites_name')),
    )
    op.create_table(
        'external_site_decisions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('capacity', sa.String(length=16), nullable=False),
        sa.Column('verdict', sa.String(length=16), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.CheckConstraint("capacity IN ('public_affairs', 'compliance')", name=op.f('ck_external_site_decisions_capacity_known')),
        sa.CheckConstraint("verdict IN ('approve', 'revoke')", name=op.f('ck_external_site_decisions_verdict_known')),
        sa.CheckConstraint("note <> ''", name=op.f('ck_external_site_decisions_noted')),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_external_site_decisions_decided_by_id_users')),
        sa.ForeignKeyConstraint(['site_id'], ['external_sites.id'], name=op.f('fk_external_site_decisions_site_id_external_sites')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_external_site_decisions')),
    )
    with op.batch_alter_table('external_site_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_external_site_decisions_site_id'), ['site_id'], unique=False)
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        _run(append_only_ddl(dialect, table))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        _run(drop_append_only_ddl(dialect, table))
    with op.batch_alter_table('external_site_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_external_site_decisions_site_id'))
    op.drop_table('external_site_decisions')
    op.drop_table('external_sites')
    op.execute("DELETE FROM user_roles WHERE role = 'compliance'")
    _roles(ROLES_BEFORE)
    _check('gate_overrides', 'ck_gate_overrides_gate_known', GATES_BEFORE)

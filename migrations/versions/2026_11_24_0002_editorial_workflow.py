"""Editorial workflow: disclosures, audit log, reviews, gate overrides, retractions, scheduling.

New history tables are append-only in the database, like revisions. Batch mode on SQLite rebuilds
``post_revisions`` and ``publications`` to add columns, which would drop their triggers, so those are
taken off first and put back after.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 19:29:33.920452
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import append_only_ddl, drop_append_only_ddl


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

NEW_APPEND_ONLY = ('disclosures', 'audit_entries', 'gate_overrides', 'retractions')
REBUILT = ('post_revisions', 'publications')


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def _dialect() -> str:
    return op.get_bind().dialect.name


def upgrade() -> None:
    op.create_table('disclosures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('no_conflicts', sa.Boolean(), nullable=False),
    sa.Column('interests', sa.JSON(), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_disclosures_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosures'))
    )
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.create_index('ix_disclosures_user_created', ['user_id', 'created_at'], unique=False)

    op.create_table('audit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('revision_number', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_entries_actor_id_users')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_audit_entries_post_id_posts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entries_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_entries_post_at', ['post_id', 'at'], unique=False)

    op.create_table('gate_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('gate', sa.String(length=32), nullable=False),
    sa.Column('justification', sa.Text(), nullable=False),
    sa.Column('editor_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("gate IN ('identity', 'disclosure', 'references', 'direct_links', 'privacy')", name=op.f('ck_gate_overrides_gate_known')),
    sa.CheckConstraint("justification <> ''", name=op.f('ck_gate_overrides_justified')),
    sa.ForeignKeyConstraint(['editor_id'], ['users.id'], name=op.f('fk_gate_overrides_editor_id_users')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_gate_overrides_post_id_posts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gate_overrides'))
    )
    with op.batch_alter_table('gate_overrides', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gate_overrides_post_id'), ['post_id'], unique=False)

    op.create_table('retractions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('editor_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['editor_id'], ['users.id'], name=op.f('fk_retractions_editor_id_users')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_retractions_post_id_posts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retractions')),
    sa.UniqueConstraint('post_id', name=op.f('uq_retractions_post_id'))
    )
    op.create_table('reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('touches_interests', sa.Boolean(), nullable=False),
    sa.Column('interest_statement', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.CheckConstraint("state IN ('open', 'approved', 'changes_requested', 'withdrawn')", name=op.f('ck_reviews_state_known')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_reviews_closed_by_id_users')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_reviews_post_id_posts')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_reviews_submitted_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews'))
    )
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reviews_post_id'), ['post_id'], unique=False)
        batch_op.create_index('uq_reviews_one_open_per_post', ['post_id'], unique=True, sqlite_where=sa.text("state = 'open'"), postgresql_where=sa.text("state = 'open'"))

    for table in REBUILT:
        _run(drop_append_only_ddl(_dialect(), table))
    with op.batch_alter_table('post_revisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('personal_view', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('publish_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_posts_publish_at'), ['publish_at'], unique=False)

    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('via', sa.String(length=32), nullable=False, server_default='review'))
        batch_op.add_column(sa.Column('disclosure_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('touches_interests', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('interest_statement', sa.Text(), nullable=False, server_default=''))
        batch_op.create_foreign_key(batch_op.f('fk_publications_disclosure_id_disclosures'), 'disclosures', ['disclosure_id'], ['id'])
        batch_op.create_check_constraint(batch_op.f('ck_publications_via_known'), "via IN ('review', 'editor_direct')")

    for table in REBUILT + NEW_APPEND_ONLY:
        _run(append_only_ddl(_dialect(), table))



def downgrade() -> None:
    for table in REBUILT + NEW_APPEND_ONLY:
        _run(drop_append_only_ddl(_dialect(), table))
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_publications_via_known'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_publications_disclosure_id_disclosures'), type_='foreignkey')
        batch_op.drop_column('interest_statement')
        batch_op.drop_column('touches_interests')
        batch_op.drop_column('disclosure_id')
        batch_op.drop_column('via')

    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_posts_publish_at'))
        batch_op.drop_column('publish_at')

    with op.batch_alter_table('post_revisions', schema=None) as batch_op:
        batch_op.drop_column('personal_view')

    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index('uq_reviews_one_open_per_post', sqlite_where=sa.text("state = 'open'"), postgresql_where=sa.text("state = 'open'"))
        batch_op.drop_index(batch_op.f('ix_reviews_post_id'))

    op.drop_table('reviews')
    op.drop_table('retractions')
    with op.batch_alter_table('gate_overrides', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gate_overrides_post_id'))

    op.drop_table('gate_overrides')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_post_at')
        batch_op.drop_index(batch_op.f('ix_audit_entries_at'))

    op.drop_table('audit_entries')
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.drop_index('ix_disclosures_user_created')

    op.drop_table('disclosures')
    for table in REBUILT:
        _run(append_only_ddl(_dialect(), table))

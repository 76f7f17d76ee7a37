"""Approvals bind exactly what was approved; publication and review are two state axes; slugs at publication.

- ``approvals`` (append-only): the revision, its writer, the approver, the disclosure in force and the
  gate results; ``approval_withdrawals`` (append-only) ends a pending one. ``publications`` gains
  ``approval_id`` with a composite foreign key (approval_id, revision_id), so a publication can only
  publish the revision its approval names.
- ``posts.status`` becomes ``publication_state`` (never_published, live, retracted) and
  ``review_state`` (none, in_review, changes_requested, scheduled); ``publish_at`` moves to the
  approval. A post scheduled before this migration goes back to its editor's queue (in review): its
  approval recorded no disclosure or gates, so it is approved again rather than published on trust.
- ``posts.version``, incremented by the database on every reader-visible change: cache keys use it.
- ``post_slugs`` (append-only) keeps every public address; drafts lose theirs.
- ``revision_diffs.engine``: stored diffs name the diff engine that wrote them; the one of this
  release marks list items, rows and cells from inside, so older (invalid) stored markup is not served.
- ``approvals.(revision_id, revision_author_id)`` references ``post_revisions.(id, author_id)``, so the
  four-eyes CHECK compares the approver with the revision's real writer.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import append_only_ddl, drop_append_only_ddl

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

NEW_APPEND_ONLY = ('approvals', 'approval_withdrawals', 'post_slugs')


def _dialect() -> str:
    return op.get_bind().dialect.name


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    _run(drop_append_only_ddl(_dialect(), 'post_revisions'))
    with op.batch_alter_table('post_revisions', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_post_revisions_id_author', ['id', 'author_id'])
    _run(append_only_ddl(_dialect(), 'post_revisions'))

    op.create_table('approvals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('revision_author_id', sa.Integer(), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('publish_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disclosure_id', sa.Integer(), nullable=True),
    sa.Column('touches_interests', sa.Boolean(), nullable=False),
    sa.Column('interest_statement', sa.Text(), nullable=False),
    sa.Column('gates', sa.JSON(), nullable=False),
    sa.CheckConstraint('approved_by_id <> revision_author_id', name=op.f('ck_approvals_four_eyes')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_approvals_approved_by_id_users')),
    sa.ForeignKeyConstraint(['disclosure_id'], ['disclosures.id'], name=op.f('fk_approvals_disclosure_id_disclosures')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_approvals_post_id_posts')),
    sa.ForeignKeyConstraint(['revision_author_id'], ['users.id'], name=op.f('fk_approvals_revision_author_id_users')),
    sa.ForeignKeyConstraint(['revision_id'], ['post_revisions.id'], name=op.f('fk_approvals_revision_id_post_revisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approvals')),
    sa.ForeignKeyConstraint(['revision_id', 'revision_author_id'], ['post_revisions.id', 'post_revisions.author_id'], name='fk_approvals_revision_writer'),
    sa.UniqueConstraint('id', 'revision_id', name='uq_approvals_id_revision')
    )
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_approvals_post_id'), ['post_id'], unique=False)

    op.create_table('approval_withdrawals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('approval_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_approval_withdrawals_actor_id_users')),
    sa.ForeignKeyConstraint(['approval_id'], ['approvals.id'], name=op.f('fk_approval_withdrawals_approval_id_approvals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_withdrawals')),
    sa.UniqueConstraint('approval_id', name=op.f('uq_approval_withdrawals_approval_id'))
    )
    op.create_table('post_slugs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_post_slugs_post_id_posts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_post_slugs')),
    sa.UniqueConstraint('slug', name=op.f('uq_post_slugs_slug'))
    )
    with op.batch_alter_table('post_slugs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_post_slugs_post_id'), ['post_id'], unique=False)

    _run(drop_append_only_ddl(_dialect(), 'publications'))
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approval_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_publications_approval_id'), ['approval_id'])
        batch_op.create_foreign_key('fk_publications_approval_revision', 'approvals',
                                    ['approval_id', 'revision_id'], ['id', 'revision_id'])
    _run(append_only_ddl(_dialect(), 'publications'))

    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('publication_state', sa.String(length=16), nullable=False,
                                      server_default='never_published'))
        batch_op.add_column(sa.Column('review_state', sa.String(length=24), nullable=False, server_default='none'))
        batch_op.add_column(sa.Column('scheduled_approval_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.alter_column('slug', existing_type=sa.String(length=200), nullable=True)

    op.execute("UPDATE posts SET publication_state = CASE WHEN status = 'retracted' THEN 'retracted' "
               "WHEN published_revision_id IS NOT NULL THEN 'live' ELSE 'never_published' END")
    op.execute("UPDATE posts SET review_state = CASE WHEN status IN ('in_review', 'changes_requested') THEN status "
               "WHEN status = 'scheduled' THEN 'in_review' ELSE 'none' END")
    # A scheduled post's approval is reopened as a review: the editor approves it again, with the record.
    op.execute("UPDATE reviews SET state = 'open', closed_by_id = NULL, closed_at = NULL WHERE id IN ("
               "SELECT MAX(r.id) FROM reviews r JOIN posts p ON p.id = r.post_id "
               "WHERE p.status = 'scheduled' AND r.state = 'approved' GROUP BY r.post_id)")
    op.execute("INSERT INTO post_slugs (post_id, slug, created_at) SELECT id, slug, "
               "COALESCE(first_published_at, created_at) FROM posts WHERE published_revision_id IS NOT NULL")
    op.execute("UPDATE posts SET slug = NULL WHERE published_revision_id IS NULL")

    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_posts_status_known'), type_='check')
        batch_op.drop_index('ix_posts_publish_at')
        batch_op.drop_column('publish_at')
        batch_op.drop_column('status')
        batch_op.alter_column('publication_state', server_default=None, existing_type=sa.String(length=16))
        batch_op.alter_column('review_state', server_default=None, existing_type=sa.String(length=24))
        batch_op.create_foreign_key('fk_posts_scheduled_approval_id_approvals', 'approvals',
                                    ['scheduled_approval_id'], ['id'])
        batch_op.create_check_constraint(
            'publication_state_known', "publication_state IN ('never_published', 'live', 'retracted')")
        batch_op.create_check_constraint(
            'review_state_known', "review_state IN ('none', 'in_review', 'changes_requested', 'scheduled')")
        batch_op.create_check_constraint(
            'slug_iff_published', "(slug IS NULL) = (publication_state = 'never_published')")
        batch_op.create_check_constraint(
            'published_revision_iff_published',
            "(published_revision_id IS NULL) = (publication_state = 'never_published')")
        batch_op.create_check_constraint(
            'scheduled_iff_approval', "(scheduled_approval_id IS NULL) = (review_state <> 'scheduled')")

    for table in NEW_APPEND_ONLY:
        _run(append_only_ddl(_dialect(), table))

    _run(drop_append_only_ddl(_dialect(), 'revision_diffs'))
    with op.batch_alter_table('revision_diffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('engine', sa.Integer(), nullable=False, server_default='1'))
        batch_op.drop_constraint('uq_revision_diffs_pair', type_='unique')
        batch_op.create_unique_constraint('uq_revision_diffs_pair', ['from_revision_id', 'to_revision_id', 'engine'])
    _run(append_only_ddl(_dialect(), 'revision_diffs'))


def downgrade() -> None:
    # Diffs of the newer engine go (they are a cache; the older engine recomputes its own on demand).
    _run(drop_append_only_ddl(_dialect(), 'revision_diffs'))
    op.execute("DELETE FROM revision_diffs WHERE engine <> 1")
    with op.batch_alter_table('revision_diffs', schema=None) as batch_op:
        batch_op.drop_constraint('uq_revision_diffs_pair', type_='unique')
        batch_op.create_unique_constraint('uq_revision_diffs_pair', ['from_revision_id', 'to_revision_id'])
        batch_op.drop_column('engine')
    _run(append_only_ddl(_dialect(), 'revision_diffs'))

    for table in NEW_APPEND_ONLY:
        _run(drop_append_only_ddl(_dialect(), table))
    with op.batch_alter_table('posts', schema=None) as batch_op:
        for name in ('scheduled_iff_approval', 'published_revision_iff_published', 'slug_iff_published',
                     'review_state_known', 'publication_state_known'):
            batch_op.drop_constraint(op.f(f'ck_posts_{name}'), type_='check')
        batch_op.drop_constraint('fk_posts_scheduled_approval_id_approvals', type_='foreignkey')
        batch_op.add_column(sa.Column('status', sa.String(length=32), nullable=False, server_default='draft'))
        batch_op.add_column(sa.Column('publish_at', sa.DateTime(timezone=True), nullable=True))
    # Scheduled posts go back to review, as on the way up; drafts get a placeholder slug of their id.
    op.execute("UPDATE posts SET status = CASE WHEN publication_state = 'retracted' THEN 'retracted' "
               "WHEN review_state = 'scheduled' THEN 'in_review' WHEN review_state <> 'none' THEN review_state "
               "WHEN publication_state = 'live' THEN 'published' ELSE 'draft' END")
    op.execute("UPDATE posts SET slug = 'draft-' || CAST(id AS VARCHAR(20)) WHERE slug IS NULL")
    op.execute("UPDATE posts SET scheduled_approval_id = NULL")
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('version')
        batch_op.drop_column('scheduled_approval_id')
        batch_op.drop_column('review_state')
        batch_op.drop_column('publication_state')
        batch_op.alter_column('status', server_default=None, existing_type=sa.String(length=32))
        batch_op.alter_column('slug', existing_type=sa.String(length=200), nullable=False)
        batch_op.create_index('ix_posts_publish_at', ['publish_at'], unique=False)
        batch_op.create_check_constraint(
            'status_known',
            "status IN ('draft', 'in_review', 'changes_requested', 'scheduled', 'published', 'retracted')")

    _run(drop_append_only_ddl(_dialect(), 'publications'))
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.drop_constraint('fk_publications_approval_revision', type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_publications_approval_id'), type_='unique')
        batch_op.drop_column('approval_id')
    _run(append_only_ddl(_dialect(), 'publications'))

    with op.batch_alter_table('post_slugs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_slugs_post_id'))
    op.drop_table('post_slugs')
    op.drop_table('approval_withdrawals')
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_approvals_post_id'))
    op.drop_table('approvals')
    _run(drop_append_only_ddl(_dialect(), 'post_revisions'))
    with op.batch_alter_table('post_revisions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_post_revisions_id_author', type_='unique')
    _run(append_only_ddl(_dialect(), 'post_revisions'))

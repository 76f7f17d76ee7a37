"""Comments: reader and staff comments, the append-only moderation log, Akismet corrections owed,
reply subscriptions, contact messages with their (append-only) replies, and the e-mail outbox.

``moderation_decisions`` and ``contact_replies`` refuse UPDATE and DELETE in the database, like the
other history tables; a comment's status is a current pointer whose every change is a decision.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 19:56:14.783515
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import append_only_ddl, drop_append_only_ddl


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

APPEND_ONLY = ('moderation_decisions', 'contact_replies')


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('to_addr', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'sent', 'logged')", name=op.f('ck_outbox_messages_status_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('contact_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('sender_ip', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('open', 'answered', 'closed', 'spam')", name=op.f('ck_contact_messages_status_known')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_contact_messages_closed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_messages'))
    )
    with op.batch_alter_table('contact_messages', schema=None) as batch_op:
        batch_op.create_index('ix_contact_messages_status_created', ['status', 'created_at'], unique=False)

    op.create_table('comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sa.String(length=200), nullable=False),
    sa.Column('author_email', sa.String(length=320), nullable=False),
    sa.Column('author_ip', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=500), nullable=False),
    sa.Column('referrer', sa.String(length=2000), nullable=False),
    sa.Column('permalink', sa.String(length=2000), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('checks', sa.JSON(), nullable=False),
    sa.Column('relevance_score', sa.Double(), nullable=True),
    sa.Column('relevance_drivers', sa.JSON(), nullable=False),
    sa.Column('akismet_verdict', sa.String(length=16), nullable=False),
    sa.Column('staff_user_id', sa.Integer(), nullable=True),
    sa.Column('needs_reply', sa.Boolean(), nullable=False),
    sa.Column('notify', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("staff_user_id IS NOT NULL OR author_email <> ''", name=op.f('ck_comments_reader_email')),
    sa.CheckConstraint("status IN ('published', 'held', 'spam', 'deleted')", name=op.f('ck_comments_status_known')),
    sa.ForeignKeyConstraint(['parent_id'], ['comments.id'], name=op.f('fk_comments_parent_id_comments')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_comments_post_id_posts')),
    sa.ForeignKeyConstraint(['staff_user_id'], ['users.id'], name=op.f('fk_comments_staff_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comments'))
    )
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.create_index('ix_comments_email', ['author_email'], unique=False)
        batch_op.create_index('ix_comments_ip_created', ['author_ip', 'created_at'], unique=False)
        batch_op.create_index('ix_comments_parent_id', ['parent_id'], unique=False)
        batch_op.create_index('ix_comments_post_status_created', ['post_id', 'status', 'created_at'], unique=False)
        batch_op.create_index('ix_comments_status_created', ['status', 'created_at'], unique=False)

    op.create_table('contact_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['contact_messages.id'], name=op.f('fk_contact_replies_message_id_contact_messages')),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox_messages.id'], name=op.f('fk_contact_replies_outbox_id_outbox_messages')),
    sa.ForeignKeyConstraint(['staff_id'], ['users.id'], name=op.f('fk_contact_replies_staff_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_replies'))
    )
    with op.batch_alter_table('contact_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_replies_message_id'), ['message_id'], unique=False)

    op.create_table('comment_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('unsubscribed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_comment_subscriptions_comment_id_comments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comment_subscriptions')),
    sa.UniqueConstraint('comment_id', name='uq_comment_subscriptions_comment_id')
    )
    with op.batch_alter_table('comment_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comment_subscriptions_email'), ['email'], unique=False)

    op.create_table('moderation_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('moderator_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=False),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("action IN ('approve', 'spam', 'off_topic', 'delete', 'ham', 'submit', 'staff', 'recheck', 'withdraw', 'no_reply_needed')", name=op.f('ck_moderation_decisions_action_known')),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_moderation_decisions_comment_id_comments')),
    sa.ForeignKeyConstraint(['moderator_id'], ['users.id'], name=op.f('fk_moderation_decisions_moderator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_decisions'))
    )
    with op.batch_alter_table('moderation_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_moderation_decisions_action', ['action', 'comment_id'], unique=False)
        batch_op.create_index('ix_moderation_decisions_at', ['at'], unique=False)
        batch_op.create_index('ix_moderation_decisions_comment_at', ['comment_id', 'at'], unique=False)

    op.create_table('akismet_submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('spam', 'ham')", name=op.f('ck_akismet_submissions_kind_known')),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_akismet_submissions_comment_id_comments')),
    sa.ForeignKeyConstraint(['decision_id'], ['moderation_decisions.id'], name=op.f('fk_akismet_submissions_decision_id_moderation_decisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_akismet_submissions'))
    )
    with op.batch_alter_table('akismet_submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_akismet_submissions_comment_id'), ['comment_id'], unique=False)
        batch_op.create_index('ix_akismet_submissions_pending', ['sent_at', 'id'], unique=False)

    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        _run(append_only_ddl(dialect, table))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        _run(drop_append_only_ddl(dialect, table))
    with op.batch_alter_table('akismet_submissions', schema=None) as batch_op:
        batch_op.drop_index('ix_akismet_submissions_pending')
        batch_op.drop_index(batch_op.f('ix_akismet_submissions_comment_id'))

    op.drop_table('akismet_submissions')
    with op.batch_alter_table('moderation_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_moderation_decisions_comment_at')
        batch_op.drop_index('ix_moderation_decisions_at')
        batch_op.drop_index('ix_moderation_decisions_action')

    op.drop_table('moderation_decisions')
    with op.batch_alter_table('comment_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comment_subscriptions_email'))

    op.drop_table('comment_subscriptions')
    with op.batch_alter_table('contact_replies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_replies_message_id'))

    op.drop_table('contact_replies')
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index('ix_comments_status_created')
        batch_op.drop_index('ix_comments_post_status_created')
        batch_op.drop_index('ix_comments_parent_id')
        batch_op.drop_index('ix_comments_ip_created')
        batch_op.drop_index('ix_comments_email')

    op.drop_table('comments')
    with op.batch_alter_table('contact_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_messages_status_created')

    op.drop_table('contact_messages')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_due')

    op.drop_table('outbox_messages')

"""Redaction: the one narrow exception to "history is never rewritten".

- ``redactions`` (append-only): a request to replace spans of one stored text (a revision, a comment, an
  error report, a contact message) with the mark "[redacted: patient identifier]": who asked, why, where
  (target table, id, field offsets), how many characters in how many spans, and whether a second
  editor must confirm it (published text). It never holds the redacted text itself.
- ``redaction_applications`` (append-only): that a redaction was carried out, by whom, as the target's
  n-th redaction (``sequence``). A composite foreign key ties it to its request, and a CHECK keeps four
  eyes: a redaction that needs confirmation is applied by someone other than its requester.
- ``post_revisions.redaction_count``: the trigger that refused every UPDATE now lets exactly one through
  per application row: only the text columns (title, body, note, html) may change, the count must move
  to the application's sequence, and the lengths must match the application's bookkeeping (characters
  removed, marks inserted). Anything else (a raw UPDATE, one that pretends to be a redaction, a second
  use of the same application) is refused as before. DELETE stays refused.
- ``revision_diffs.from_redactions`` / ``to_redactions``: the redaction counts of the two revisions the
  cached diff was computed from. A diff may be deleted only once it is stale (either count moved);
  it is never updated.
- ``redaction_rewrites`` (append-only): the copies of redacted text a redaction rewrote elsewhere, by table
  and row id (never the text): a revision's note in its audit entries, a contact message quoted in a staff
  reply, a comment quoted in a moderation decision's reason, and a post's old address (``post_slugs``)
  that held the identifier. ``audit_entries``, ``contact_replies`` and ``moderation_decisions`` get a
  ``redaction_count``: their triggers let an UPDATE through only when it leaves every other column as it
  was, moves the count by one, and a rewrite row of that sequence names the row and an application tied
  to it (the same post; the same message; the same comment). ``post_slugs`` lets a DELETE through only of
  a row a rewrite names, tied to a redaction of one of that post's revisions, and only once the post no
  longer uses that address. Everything else stays refused.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import append_only_ddl, drop_append_only_ddl

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

NEW_APPEND_ONLY = ('redactions', 'redaction_applications', 'redaction_rewrites')
COPY_TABLES = ('audit_entries', 'contact_replies', 'moderation_decisions')
REWRITABLE = (*COPY_TABLES, 'post_slugs')
MARK_LENGTH = len('[redacted: patient identifier]')  # app.redaction.models.MARK; checked by a test

TARGETS = "('post_revisions', 'comments', 'error_reports', 'contact_messages')"

# The one UPDATE of a revision that may pass: its text columns, with a matching application row.
_REVISION_UPDATE_ALLOWED = (
    "NEW.id = OLD.id AND NEW.post_id = OLD.post_id AND NEW.number = OLD.number "
    "AND NEW.author_id = OLD.author_id AND NEW.created_at {same} OLD.created_at AND NEW.kind = OLD.kind "
    "AND NEW.personal_view = OLD.personal_view AND {refs_new} = {refs_old} "
    "AND NEW.redaction_count = OLD.redaction_count + 1 "
    "AND EXISTS (SELECT 1 FROM redaction_applications a JOIN redactions r ON r.id = a.redaction_id "
    "WHERE a.target_table = 'post_revisions' AND a.target_id = OLD.id AND a.sequence = NEW.redaction_count "
    "AND length(NEW.title) + length(NEW.body) + length(NEW.note) "
    f"= length(OLD.title) + length(OLD.body) + length(OLD.note) - r.span_length + r.span_count * {MARK_LENGTH})"
)
_DIFF_DELETE_ALLOWED = (
    "OLD.from_redactions <> (SELECT p.redaction_count FROM post_revisions p WHERE p.id = OLD.from_revision_id) "
    "OR OLD.to_redactions <> (SELECT p.redaction_count FROM post_revisions p WHERE p.id = OLD.to_revision_id)"
)

# Copies of redacted text: (the columns that must stay as they were, the application the rewrite is for).
_COPY_RULES = {
    'audit_entries': (
        ('id', 'at', 'actor_id', 'action', 'post_id', 'revision_number'),
        'a.post_id = OLD.post_id',
    ),
    'contact_replies': (
        ('id', 'message_id', 'staff_id', 'outbox_id', 'at'),
        "a.target_table = 'contact_messages' AND a.target_id = OLD.message_id",
    ),
    'moderation_decisions': (
        ('id', 'comment_id', 'moderator_id', 'action', 'from_status', 'to_status', 'at'),
        "a.target_table = 'comments' AND a.target_id = OLD.comment_id",
    ),
}


def _copy_update_allowed(table: str, same: str) -> str:
    kept, tied = _COPY_RULES[table]
    unchanged = ' AND '.join(f'NEW.{c} {same} OLD.{c}' for c in kept)
    return (
        f"{unchanged} AND NEW.redaction_count = OLD.redaction_count + 1 "
        "AND EXISTS (SELECT 1 FROM redaction_rewrites w JOIN redaction_applications a ON a.id = w.application_id "
        f"WHERE w.table_name = '{table}' AND w.row_id = OLD.id AND w.sequence = NEW.redaction_count AND {tied})"
    )


_SLUG_DELETE_ALLOWED = (
    "EXISTS (SELECT 1 FROM redaction_rewrites w JOIN redaction_applications a ON a.id = w.application_id "
    "WHERE w.table_name = 'post_slugs' AND w.row_id = OLD.id "
    "AND a.target_table = 'post_revisions' AND a.post_id = OLD.post_id) "
    "AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.slug = OLD.slug)"
)


def _copies_ddl(dialect: str) -> list[str]:
    """The narrow doors on the tables that hold copies (see the module's docstring)."""
    if dialect == 'sqlite':
        ddl = []
        for table in COPY_TABLES:
            ddl += [
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                f"WHEN NOT ({_copy_update_allowed(table, 'IS')}) "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END",
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END",
            ]
        return ddl + [
            "CREATE TRIGGER post_slugs_no_update BEFORE UPDATE ON post_slugs "
            "BEGIN SELECT RAISE(ABORT, 'post_slugs is append-only: UPDATE refused'); END",
            "CREATE TRIGGER post_slugs_no_delete BEFORE DELETE ON post_slugs "
            f"WHEN NOT ({_SLUG_DELETE_ALLOWED}) "
            "BEGIN SELECT RAISE(ABORT, 'post_slugs is append-only: DELETE refused'); END",
        ]
    ddl = []
    for table in COPY_TABLES:
        ddl += [
            f"CREATE OR REPLACE FUNCTION candor_guard_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF TG_OP = 'UPDATE' AND ({_copy_update_allowed(table, 'IS NOT DISTINCT FROM')}) "
            "THEN RETURN NEW; END IF; "
            "RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION candor_guard_{table}()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION candor_refuse_change()",
        ]
    return ddl + [
        "CREATE OR REPLACE FUNCTION candor_guard_post_slugs() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'DELETE' AND ({_SLUG_DELETE_ALLOWED}) THEN RETURN OLD; END IF; "
        "RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$",
        "CREATE TRIGGER post_slugs_append_only BEFORE UPDATE OR DELETE ON post_slugs "
        "FOR EACH ROW EXECUTE FUNCTION candor_guard_post_slugs()",
        "CREATE TRIGGER post_slugs_no_truncate BEFORE TRUNCATE ON post_slugs "
        "FOR EACH STATEMENT EXECUTE FUNCTION candor_refuse_change()",
    ]


def _dialect() -> str:
    return op.get_bind().dialect.name


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def _guard_ddl(dialect: str) -> list[str]:
    if dialect == 'sqlite':
        allowed = _REVISION_UPDATE_ALLOWED.format(same='IS', refs_new='NEW."references"', refs_old='OLD."references"')
        return [
            "CREATE TRIGGER post_revisions_no_update BEFORE UPDATE ON post_revisions "
            f"WHEN NOT ({allowed}) "
            "BEGIN SELECT RAISE(ABORT, 'post_revisions is append-only: UPDATE refused'); END",
            "CREATE TRIGGER post_revisions_no_delete BEFORE DELETE ON post_revisions "
            "BEGIN SELECT RAISE(ABORT, 'post_revisions is append-only: DELETE refused'); END",
            "CREATE TRIGGER revision_diffs_no_update BEFORE UPDATE ON revision_diffs "
            "BEGIN SELECT RAISE(ABORT, 'revision_diffs is append-only: UPDATE refused'); END",
            "CREATE TRIGGER revision_diffs_no_delete BEFORE DELETE ON revision_diffs "
            f"WHEN NOT ({_DIFF_DELETE_ALLOWED}) "
            "BEGIN SELECT RAISE(ABORT, 'revision_diffs is append-only: DELETE refused'); END",
        ]
    allowed = _REVISION_UPDATE_ALLOWED.format(
        same='IS NOT DISTINCT FROM', refs_new='NEW."references"::text', refs_old='OLD."references"::text'
    )
    return [
        "CREATE OR REPLACE FUNCTION candor_guard_revision() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'UPDATE' AND ({allowed}) THEN RETURN NEW; END IF; "
        "RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$",
        "CREATE OR REPLACE FUNCTION candor_guard_diff() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'DELETE' AND ({_DIFF_DELETE_ALLOWED}) THEN RETURN OLD; END IF; "
        "RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$",
        "CREATE TRIGGER post_revisions_append_only BEFORE UPDATE OR DELETE ON post_revisions "
        "FOR EACH ROW EXECUTE FUNCTION candor_guard_revision()",
        "CREATE TRIGGER post_revisions_no_truncate BEFORE TRUNCATE ON post_revisions "
        "FOR EACH STATEMENT EXECUTE FUNCTION candor_refuse_change()",
        "CREATE TRIGGER revision_diffs_append_only BEFORE UPDATE OR DELETE ON revision_diffs "
        "FOR EACH ROW EXECUTE FUNCTION candor_guard_diff()",
        "CREATE TRIGGER revision_diffs_no_truncate BEFORE TRUNCATE ON revision_diffs "
        "FOR EACH STATEMENT EXECUTE FUNCTION candor_refuse_change()",
    ]


def upgrade() -> None:
    dialect = _dialect()
    op.create_table('redactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_table', sa.String(length=32), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('revision_number', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('spans', sa.JSON(), nullable=False),
    sa.Column('span_count', sa.Integer(), nullable=False),
    sa.Column('span_length', sa.Integer(), nullable=False),
    sa.Column('base_sequence', sa.Integer(), nullable=False),
    sa.Column('needs_confirmation', sa.Boolean(), nullable=False),
    sa.CheckConstraint(f"target_table IN {TARGETS}", name=op.f('ck_redactions_target_known')),
    sa.CheckConstraint("reason <> ''", name=op.f('ck_redactions_reason_given')),
    sa.CheckConstraint('span_count >= 1 AND span_length >= span_count', name=op.f('ck_redactions_spans_counted')),
    sa.CheckConstraint('base_sequence >= 0', name=op.f('ck_redactions_base_sequence_positive')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_redactions_post_id_posts')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_redactions_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redactions')),
    sa.UniqueConstraint('id', 'target_table', 'target_id', 'requested_by_id', 'needs_confirmation',
                        name='uq_redactions_request')
    )
    with op.batch_alter_table('redactions', schema=None) as batch_op:
        batch_op.create_index('ix_redactions_target', ['target_table', 'target_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_redactions_post_id'), ['post_id'], unique=False)

    op.create_table('redaction_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('redaction_id', sa.Integer(), nullable=False),
    sa.Column('target_table', sa.String(length=32), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('needs_confirmation', sa.Boolean(), nullable=False),
    sa.Column('applied_by_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('NOT needs_confirmation OR applied_by_id <> requested_by_id',
                       name=op.f('ck_redaction_applications_four_eyes')),
    sa.CheckConstraint('sequence >= 1', name=op.f('ck_redaction_applications_sequence_positive')),
    sa.ForeignKeyConstraint(['applied_by_id'], ['users.id'], name=op.f('fk_redaction_applications_applied_by_id_users')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_redaction_applications_post_id_posts')),
    sa.ForeignKeyConstraint(['redaction_id', 'target_table', 'target_id', 'requested_by_id', 'needs_confirmation'],
                            ['redactions.id', 'redactions.target_table', 'redactions.target_id',
                             'redactions.requested_by_id', 'redactions.needs_confirmation'],
                            name='fk_redaction_applications_request'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redaction_applications')),
    sa.UniqueConstraint('redaction_id', name=op.f('uq_redaction_applications_redaction_id')),
    sa.UniqueConstraint('target_table', 'target_id', 'sequence', name='uq_redaction_applications_sequence')
    )
    with op.batch_alter_table('redaction_applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redaction_applications_post_id'), ['post_id'], unique=False)

    for table in ('post_revisions', 'revision_diffs'):
        _run(drop_append_only_ddl(dialect, table))
    with op.batch_alter_table('post_revisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('redaction_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_check_constraint(op.f('ck_post_revisions_redaction_count_positive'), 'redaction_count >= 0')
    with op.batch_alter_table('revision_diffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('from_redactions', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('to_redactions', sa.Integer(), nullable=False, server_default='0'))
    _run(_guard_ddl(dialect))

    op.create_table('redaction_rewrites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('table_name', sa.String(length=32), nullable=False),
    sa.Column('row_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.CheckConstraint(f"table_name IN {REWRITABLE!r}", name=op.f('ck_redaction_rewrites_table_known')),
    sa.CheckConstraint('sequence >= 1', name=op.f('ck_redaction_rewrites_sequence_positive')),
    sa.ForeignKeyConstraint(['application_id'], ['redaction_applications.id'],
                            name=op.f('fk_redaction_rewrites_application_id_redaction_applications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redaction_rewrites')),
    sa.UniqueConstraint('table_name', 'row_id', 'sequence', name='uq_redaction_rewrites_row_sequence')
    )
    with op.batch_alter_table('redaction_rewrites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redaction_rewrites_application_id'), ['application_id'], unique=False)

    for table in REWRITABLE:
        _run(drop_append_only_ddl(dialect, table))
    for table in COPY_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('redaction_count', sa.Integer(), nullable=False, server_default='0'))
    _run(_copies_ddl(dialect))

    for table in NEW_APPEND_ONLY:
        _run(append_only_ddl(dialect, table))


def downgrade() -> None:
    dialect = _dialect()
    for table in NEW_APPEND_ONLY:
        _run(drop_append_only_ddl(dialect, table))
    for table in REWRITABLE:
        _run(drop_append_only_ddl(dialect, table))
        if dialect != 'sqlite':
            op.execute(f'DROP FUNCTION IF EXISTS candor_guard_{table}()')
    for table in COPY_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('redaction_count')
    for table in REWRITABLE:
        _run(append_only_ddl(dialect, table))
    with op.batch_alter_table('redaction_rewrites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redaction_rewrites_application_id'))
    op.drop_table('redaction_rewrites')

    for table in ('post_revisions', 'revision_diffs'):
        _run(drop_append_only_ddl(dialect, table))
    if dialect != 'sqlite':
        op.execute('DROP FUNCTION IF EXISTS candor_guard_revision()')
        op.execute('DROP FUNCTION IF EXISTS candor_guard_diff()')
    with op.batch_alter_table('revision_diffs', schema=None) as batch_op:
        batch_op.drop_column('to_redactions')
        batch_op.drop_column('from_redactions')
    with op.batch_alter_table('post_revisions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_post_revisions_redaction_count_positive'), type_='check')
        batch_op.drop_column('redaction_count')
    for table in ('post_revisions', 'revision_diffs'):
        _run(append_only_ddl(dialect, table))

    with op.batch_alter_table('redaction_applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redaction_applications_post_id'))
    op.drop_table('redaction_applications')
    with op.batch_alter_table('redactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redactions_post_id'))
        batch_op.drop_index('ix_redactions_target')
    op.drop_table('redactions')

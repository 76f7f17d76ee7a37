"""Stored off-topic vectors can be re-encoded by today's model, through one narrow door per table.

``post_passages`` and ``offtopic_examples`` keep vectors derived from text (a revision's passages, a
decided comment). A vector made by an earlier graph (before stop 26's fix, an AVX2 processor's) differs
from what the model makes now; ``flask --app wsgi offtopic reencode`` rewrites it. The vectors are
derived data, not history, but the tables stay append-only for everything else:

- ``offtopic_encodings`` (append-only) has one row per re-encoding run that rewrote something: the model's
  and tokenizer's sha256 and when it started.
- Each of the two tables gets ``encoding`` (0: as first stored). Its trigger lets an UPDATE through only
  when ``vector`` and ``encoding`` are all that change and ``encoding`` moves up to the latest run's id;
  every other column as it was (the label, position and revision of a passage; the decision, label and
  redaction count of an example). ``offtopic_examples`` keeps 0026's door for a redaction beside it.
  DELETE and TRUNCATE stay refused.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import append_only_ddl, drop_append_only_ddl

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

RUNS = "offtopic_encodings"
KEPT = {
    "post_passages": ("id", "post_id", "revision_id", "position", "label", "created_at"),
    "offtopic_examples": (
        "id", "decision_id", "comment_id", "post_id", "on_topic", "filter_on_topic", "at", "redaction_count",
    ),
}
REDACTION_KEPT = (*KEPT["offtopic_examples"][:-1], "encoding")  # all but redaction_count


def _unchanged(columns: tuple[str, ...], same: str) -> str:
    return " AND ".join(f"NEW.{c} {same} OLD.{c}" for c in columns)


def _reencoding(table: str, same: str) -> str:
    """The re-encoding's UPDATE: only ``vector`` and ``encoding``, the latter up to the latest run."""
    return (
        f"{_unchanged(KEPT[table], same)} AND NEW.encoding > OLD.encoding "
        f"AND NEW.encoding = (SELECT COALESCE(MAX(r.id), 0) FROM {RUNS} r)"
    )


def _redaction(same: str, kept: tuple[str, ...] = REDACTION_KEPT) -> str:
    """0026's door, the encoding kept as it was."""
    return (
        f"{_unchanged(kept, same)} AND NEW.redaction_count > OLD.redaction_count "
        "AND NEW.redaction_count = (SELECT COALESCE(MAX(a.sequence), 0) FROM redaction_applications a "
        "WHERE a.target_table = 'comments' AND a.target_id = OLD.comment_id)"
    )


def _allowed(table: str, same: str, *, before: bool = False) -> str:
    """True only for an allowed UPDATE; never NULL (SQLite's WHEN NOT (NULL) would let it pass).
    ``before``: 0026's guard of ``offtopic_examples`` (the downgrade puts it back)."""
    if before:
        return f"({_redaction(same, REDACTION_KEPT[:-1])})"
    if table == "offtopic_examples":
        return f"(({_reencoding(table, same)}) OR ({_redaction(same)}))"
    return f"({_reencoding(table, same)})"


def _guard_ddl(dialect: str, table: str, *, before: bool = False) -> list[str]:
    if dialect == "sqlite":
        allowed = _allowed(table, "IS", before=before)
        return [
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} WHEN NOT ({allowed}) "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END",
        ]
    allowed = _allowed(table, "IS NOT DISTINCT FROM", before=before)
    return [
        f"CREATE OR REPLACE FUNCTION candor_guard_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'UPDATE' AND {allowed} THEN RETURN NEW; END IF; "
        "RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION candor_guard_{table}()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION candor_refuse_change()",
    ]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        RUNS,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("tokenizer_sha256", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offtopic_encodings")),
    )
    _run(append_only_ddl(dialect, RUNS))
    for table in KEPT:
        _run(drop_append_only_ddl(dialect, table))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("encoding", sa.Integer(), nullable=False, server_default="0"))
        _run(_guard_ddl(dialect, table))


def downgrade() -> None:
    """Back to 0026's guards (re-encoded vectors stay as they are: the encoding column goes)."""
    dialect = op.get_bind().dialect.name
    for table in KEPT:
        _run(drop_append_only_ddl(dialect, table))
        if dialect != "sqlite" and table == "post_passages":
            op.execute(f"DROP FUNCTION IF EXISTS candor_guard_{table}()")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("encoding")
    _run(append_only_ddl(dialect, "post_passages"))
    _run(_guard_ddl(dialect, "offtopic_examples", before=True))
    _run(drop_append_only_ddl(dialect, RUNS))
    op.drop_table(RUNS)
